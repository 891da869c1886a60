import { randomUUID } from 'node:crypto';
import { QueueClient } from '@azure/storage-queue';
import { describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createServices } from '../../src/composition/composition.js';
import { loadConfig } from '../../src/composition/config.js';
import { runCli } from '../helpers/cli.js';

function streams() {
  const out = { stdout: '', stderr: '' };
  const sink = (key: 'stdout' | 'stderr') =>
    ({
      write: (chunk: string) => {
        out[key] += chunk;
        return true;
      },
    }) as unknown as NodeJS.WritableStream;
  return { out, streams: { stdout: sink('stdout'), stderr: sink('stderr') } };
}

/** Storage settings of a Function App of its own on the shared Azurite. */
function environment(): Record<string, string> {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return {
    LEDGER_STORAGE_CONNECTION_STRING: inject('azurite'),
    LEDGER_TABLE: `ledger${id}`,
    LEDGER_CONTAINER: `ledger-${id}`,
    REPORTS_CONTAINER: `reports-${id}`,
    RESTATE_QUEUE_NAME: `days-${id}`,
  };
}

describe('chargeback restate', () => {
  it('marks the days dirty in the ledger and queues one message per day on the storage queue', async () => {
    const env = environment();
    const { out, streams: s } = streams();
    expect(await main(['restate', '--date', '2026-11-20', '--to', '2026-11-21'], s, env)).toBe(0);
    expect(out.stdout).toBe(
      `marked 2 day(s) for restatement (2026-11-20 to 2026-11-21) and queued them on ${env.RESTATE_QUEUE_NAME ?? ''}\n`,
    );
    const services = await createServices(loadConfig(env));
    expect((await services.ledger.dirtyDays('2026-11-01')).map((d) => d.day)).toEqual([
      '2026-11-20',
      '2026-11-21',
    ]);
    const queue = new QueueClient(inject('azurite'), env.RESTATE_QUEUE_NAME ?? '');
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 10 });
    const days = receivedMessageItems.map(
      (m) => (JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as { day: string }).day,
    );
    expect(days.sort()).toEqual(['2026-11-20', '2026-11-21']);
  });

  it('queues the days with refit when told --refit', async () => {
    const env = environment();
    const { streams: s } = streams();
    expect(await main(['restate', '--date', '2026-11-20', '--refit'], s, env)).toBe(0);
    const queue = new QueueClient(inject('azurite'), env.RESTATE_QUEUE_NAME ?? '');
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 10 });
    expect(
      receivedMessageItems.map(
        (m) =>
          JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as {
            day: string;
            refit?: boolean;
          },
      ),
    ).toMatchObject([{ day: '2026-11-20', reason: 'on-demand', refit: true }]);
  });

  it('exits 2 with the reason for a day that is not over, and touches no storage', async () => {
    const { out, streams: s } = streams();
    const today = new Date().toISOString().slice(0, 10);
    expect(await main(['restate', '--date', today], s, {})).toBe(2);
    expect(out.stderr).toMatch(/^chargeback: .*is not over yet/);
  });

  it('exits 2 naming the settings when the environment has no storage', async () => {
    const { out, streams: s } = streams();
    expect(await main(['restate', '--date', '2026-11-20'], s, {})).toBe(2);
    expect(out.stderr).toMatch(/LEDGER_STORAGE_ACCOUNT_NAME .*or LEDGER_STORAGE_CONNECTION_STRING/);
  });

  it('is listed by chargeback --help, and explains itself', async () => {
    const { out, streams: s } = streams();
    expect(await main(['--help'], s)).toBe(0);
    expect(out.stdout).toMatch(/^ {2}restate +mark stored daily reports/m);
    const help = await runCli(['restate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: chargeback restate --date YYYY-MM-DD \[--to YYYY-MM-DD\]/);
  });
});
