import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { createServices } from '../../src/composition/composition.js';
import { loadConfig } from '../../src/composition/config.js';
import { NOTHING_COMMITTED } from '../../src/ports/ledger.js';
import { ingestBatch } from '../../src/usecases/ingest/ingest.js';
import { main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { at, DAY, ONE_GPU, TEST_PRICES, usage } from '../helpers/events.js';
import { NEW_SKU } from '../helpers/repair.js';

/** The settings of a ledger of its own on the shared Azurite, as the command reads them. */
function storageEnv(): Record<string, string> {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return {
    LEDGER_STORAGE_CONNECTION_STRING: inject('azurite'),
    LEDGER_TABLE: `ledger${id}`,
    LEDGER_CONTAINER: `ledger-${id}`,
    REPORTS_CONTAINER: `reports-${id}`,
  };
}

const sink = { write: () => true } as unknown as NodeJS.WritableStream;

const run = (args: string[], env: Record<string, string>) =>
  runCli(args, { env: { ...process.env, ...env } });

describe('chargeback replay-deadletters and sweep-orphans', () => {
  it('replays the dead letters of a day with the card PRICE_CARD_PATH names, once', async () => {
    const env = storageEnv();
    const services = await createServices(loadConfig(env));
    const messages = [usage({ gpuSku: NEW_SKU, gpuCount: 2 }), usage({ gpuSku: 'TEST_UNKNOWN' })].map(
      (body, i) => ({ body: JSON.stringify(body), partition: '0', sequenceNumber: i, enqueuedTime: at(100) }),
    );
    await ingestBatch(messages, { ledger: services.ledger, prices: TEST_PRICES, now: () => new Date() });
    const card = join(mkdtempSync(join(tmpdir(), 'card-')), 'card.json');
    writeFileSync(
      card,
      JSON.stringify({
        currency: 'USD',
        skus: [ONE_GPU, NEW_SKU].map((sku) => ({
          sku,
          gpusPerVm: 1,
          pricePerVmHour: 3.6,
          effectiveFrom: '2026-01-01T00:00:00Z',
        })),
      }),
    );
    const withCard = { ...env, PRICE_CARD_PATH: card };

    const dry = await run(['replay-deadletters', '--date', DAY, '--dry-run'], withCard);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toMatch(/^dry run: would replay 1 dead letter\(s\);.* 1 still failing/);

    const first = await run(['replay-deadletters', '--from', DAY, '--to', DAY], withCard);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      'replayed 1 dead letter(s); 0 already in the ledger, moved to replayed/; 1 still failing, left in deadletter/\n' +
        '        1  gpuSku: "TEST_UNKNOWN" is not on the price card\n' +
        `marked for restatement by the next daily run: ${DAY}\n`,
    );
    const again = await run(['replay-deadletters'], withCard);
    expect(again.stdout).toMatch(/^replayed 0 dead letter\(s\); 0 already in the ledger.*; 1 still failing/);
  });

  it('sweeps nothing younger than --older-than (24 hours by default)', async () => {
    const env = storageEnv();
    const { ledger } = await createServices(loadConfig(env));
    const draft = {
      day: DAY,
      partition: '0',
      firstSequence: 0,
      lastSequence: 0,
      lines: ['{"n":0}'],
      usageEvents: 1,
      capacityEvents: 0,
      minStartMs: 0,
      maxEndMs: 1,
    };
    await ledger.commit(draft, NOTHING_COMMITTED);
    await ledger.commit({ ...draft, lastSequence: 1, lines: ['{"n":0}', '{"n":1}'] }, NOTHING_COMMITTED);
    const young = await run(['sweep-orphans', '--dry-run'], env);
    expect(young).toMatchObject({ code: 0, stderr: '' });
    expect(young.stdout).toBe(
      'would delete 0 orphan segment(s), 0 bytes; 2 segment blob(s) examined: 0 committed, 2 too young to judge\n',
    );
  });

  it('refuses bad arguments with exit 2, before touching storage', async () => {
    const refused = async (args: string[]): Promise<string> => {
      let stderr = '';
      const streams = {
        stdout: sink,
        stderr: { write: (t: string) => (stderr += t) } as unknown as NodeJS.WritableStream,
      };
      expect(await main(args, streams)).toBe(2);
      return stderr;
    };
    expect(await refused(['sweep-orphans', '--older-than', '0'])).toBe(
      'chargeback: --older-than must be a whole number of hours from 1 to 9600, got "0"\n',
    );
    expect(await refused(['replay-deadletters', '--date', DAY, '--from', DAY])).toBe(
      'chargeback: give --date or --from, not both\n',
    );
    expect(await refused(['replay-deadletters', '--from', '2026-11-23', '--to', DAY])).toBe(
      `chargeback: --from 2026-11-23 is after --to ${DAY}\n`,
    );
  });
});
