import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMain } from '../helpers/cli.js';
import { at, capacity, DAY, evaluation, usage } from '../helpers/events.js';

// contracts.md §6: input that holds events but nothing billable for the day exits 1 with what was read.
const PRICES = 'prices/azure-a100.json';
const SKU = 'Standard_NC24ads_A100_v4';
const DAY_SECONDS = 86_400;

function ndjson(events: readonly Record<string, unknown>[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

async function report(events: readonly Record<string, unknown>[], out?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'cli-empty-'));
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, ndjson(events));
  const to = out ?? join(dir, 'out');
  const result = await runMain(['report', '--events', file, '--prices', PRICES, '--date', DAY, '--out', to]);
  return { ...result, out: to };
}

describe('chargeback report on a day with input and nothing billable', () => {
  it('exits 1 when every event is rejected, naming the count, the day and the reason by count', async () => {
    const result = await report([
      capacity({ gpuSku: 'Standard_Unknown_v9', windowStart: at(0), windowEnd: at(3600) }),
      usage({ gpuSku: 'Standard_Unknown_v9' }),
      usage({ gpuSku: 'Standard_Unknown_v9' }),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`read 3 event(s) on ${DAY}`);
    expect(result.stderr).toContain(
      '3 rejected (3 × gpuSku: "Standard_Unknown_v9" is not on the price card)',
    );
  });

  it('writes nothing then, so a report already in DIR is not replaced by a $0 one', async () => {
    const result = await report([usage({ gpuSku: 'Standard_Unknown_v9' })]);
    expect(existsSync(join(result.out, `chargeback-${DAY}.csv`))).toBe(false);
    expect(existsSync(join(result.out, `summary-${DAY}.json`))).toBe(false);
  });

  it('exits 1 when every event is of other days, naming the days they span', async () => {
    const result = await report([
      capacity({ gpuSku: SKU, windowStart: at(-7200), windowEnd: at(-3600) }),
      usage({ gpuSku: SKU, startedAt: at(-7000), finishedAt: at(-6990) }),
      usage({ gpuSku: SKU, startedAt: at(DAY_SECONDS + 10), finishedAt: at(DAY_SECONDS + 20) }),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${DAY}: nothing in the input counts for the day`);
    expect(result.stderr).toContain('read 3 event(s) spanning 2026-11-21 to 2026-11-23');
  });

  it('exits 1 when the input holds only events of another type', async () => {
    expect((await report([evaluation()])).code).toBe(1);
  });

  it('exits 1 for real requests all unmetered (no capacity at all), naming them', async () => {
    const result = await report([usage({ gpuSku: SKU }), usage({ gpuSku: SKU, pod: 'pod-b' })]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      '2 request(s) finished on the day and the bill is 0: 2 of them unmetered',
    );
  });

  it('exits 0 for a day of capacity and no usage: an idle day is a real bill', async () => {
    const result = await report([capacity({ gpuSku: SKU, windowStart: at(0), windowEnd: at(3600) })]);
    expect(result.code).toBe(0);
    expect(readFileSync(join(result.out, `chargeback-${DAY}.csv`), 'utf8')).toContain('(idle)');
  });

  it('exits 0 for a day whose requests are partly unmetered: the metered ones are billed', async () => {
    const result = await report([
      capacity({ gpuSku: SKU, windowStart: at(0), windowEnd: at(3600) }),
      usage({ gpuSku: SKU }),
      usage({ gpuSku: SKU, pod: 'pod-without-capacity' }),
    ]);
    expect(result.code).toBe(0);
  });

  it('exits 0 for a day some of whose events are rejected or of other days', async () => {
    const result = await report([
      capacity({ gpuSku: SKU, windowStart: at(0), windowEnd: at(3600) }),
      usage({ gpuSku: SKU }),
      usage({ gpuSku: 'Standard_Unknown_v9' }),
      usage({ gpuSku: SKU, startedAt: at(-7000), finishedAt: at(-6990) }),
    ]);
    expect(result.code).toBe(0);
  });
});
