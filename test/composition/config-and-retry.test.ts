import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isTransient, retrying } from '../../src/usecases/retry.js';
import { loadConfig } from '../../src/composition/config.js';
import { ConfigurationError, PermanentError, TransientError } from '../../src/domain/errors.js';

const SECRET =
  'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net';

describe('configuration', () => {
  it('parses settings into real types with defaults', () => {
    const config = loadConfig({
      LEDGER_STORAGE_ACCOUNT_NAME: 'chargeback01',
      RESTATE_DAYS: '7',
      IDLE_POLICY: 'share',
    });
    expect(config).toMatchObject({
      storage: { kind: 'identity', accountName: 'chargeback01' },
      restateDays: 7,
      idle: 'share',
      ledgerTable: 'ledger',
      ingestRetryDeadlineMs: 240_000,
    });
  });

  it('never shows the storage connection string when logged or serialised', () => {
    const config = loadConfig({ LEDGER_STORAGE_CONNECTION_STRING: SECRET });
    expect(JSON.stringify(config)).not.toContain('c2VjcmV0LWtleQ');
    expect(inspect(config, { depth: 5 })).not.toContain('c2VjcmV0LWtleQ');
    expect(JSON.stringify({ config })).not.toContain('AccountKey');
    expect(config.storage).toMatchObject({ kind: 'connection-string', connectionString: SECRET });
  });

  it('names every bad or missing setting at start-up', () => {
    expect(() => loadConfig({})).toThrow(/LEDGER_STORAGE_ACCOUNT_NAME .*or LEDGER_STORAGE_CONNECTION_STRING/);
    const error = (() => {
      try {
        loadConfig({ LEDGER_STORAGE_ACCOUNT_NAME: 'Bad_Name', RESTATE_DAYS: 'soon', IDLE_POLICY: 'hide' });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error?.message).toMatch(/LEDGER_STORAGE_ACCOUNT_NAME/);
    expect(error?.message).toMatch(/RESTATE_DAYS/);
    expect(error?.message).toMatch(/IDLE_POLICY/);
  });
});

describe('retrying', () => {
  const instant = { sleep: () => Promise.resolve() };

  it('classifies throttling, 5xx, timeouts and dropped connections as transient, and 4xx as not', () => {
    expect(isTransient(new TransientError('x'))).toBe(true);
    expect(isTransient({ statusCode: 503 })).toBe(true);
    expect(isTransient({ statusCode: 429 })).toBe(true);
    expect(isTransient({ code: 'ECONNREFUSED' })).toBe(true);
    expect(isTransient({ statusCode: 403 })).toBe(false);
    expect(isTransient(new PermanentError('x'))).toBe(false);
  });

  it('tries again until the operation succeeds', async () => {
    let calls = 0;
    const result = await retrying(
      () => (++calls < 4 ? Promise.reject(new TransientError('busy')) : Promise.resolve('done')),
      { deadlineMs: 60_000, ...instant },
    );
    expect([result, calls]).toEqual(['done', 4]);
  });

  it('does not retry a permanent error', async () => {
    let calls = 0;
    await expect(
      retrying(
        () => {
          calls += 1;
          return Promise.reject(new PermanentError('bad input'));
        },
        { deadlineMs: 60_000, ...instant },
      ),
    ).rejects.toThrow('bad input');
    expect(calls).toBe(1);
  });

  it('gives up with the last error once the deadline has passed', async () => {
    let clock = 0;
    await expect(
      retrying(() => Promise.reject(new TransientError('still down')), {
        deadlineMs: 5_000,
        now: () => clock,
        sleep: (ms) => {
          clock += ms;
          return Promise.resolve();
        },
      }),
    ).rejects.toThrow('still down');
    expect(clock).toBeLessThanOrEqual(5_000);
    expect(clock).toBeGreaterThan(0);
  });
});
