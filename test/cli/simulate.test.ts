import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { DAY } from '../helpers/events.js';

const sink = { write: () => true } as unknown as NodeJS.WritableStream;
const dir = mkdtempSync(join(tmpdir(), 'simulate-'));

async function simulate(name: string, extra: string[]): Promise<string> {
  const out = join(dir, name);
  const code = await main(
    ['simulate', '--date', DAY, '--out', out, '--pods', '3', '--requests', '3000', ...extra],
    {
      stdout: sink,
      stderr: sink,
    },
  );
  expect(code).toBe(0);
  return out;
}

async function report(
  events: string,
  out: string,
): Promise<{ csv: string; summary: Record<string, number> }> {
  const code = await main(
    [
      'report',
      '--events',
      events,
      '--prices',
      'prices/azure-a100.json',
      '--date',
      DAY,
      '--out',
      join(dir, out),
    ],
    { stdout: sink, stderr: sink },
  );
  expect(code).toBe(0);
  return {
    csv: readFileSync(join(dir, out, `chargeback-${DAY}.csv`), 'utf8'),
    summary: JSON.parse(readFileSync(join(dir, out, `summary-${DAY}.json`), 'utf8')) as Record<
      string,
      number
    >,
  };
}

describe('chargeback simulate', () => {
  it('writes the same bytes for the same options and other bytes for another seed', async () => {
    const a = readFileSync(await simulate('a.ndjson', ['--seed', '5']), 'utf8');
    const b = readFileSync(await simulate('b.ndjson', ['--seed', '5']), 'utf8');
    const c = readFileSync(await simulate('c.ndjson', ['--seed', '6']), 'utf8');
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('produces a day the report accepts whole, closing to the cent', async () => {
    const { summary } = await report(await simulate('day.ndjson', ['--seed', '9']), 'day-report');
    expect(summary.rejected).toBe(0);
    expect(summary.requests).toBeGreaterThan(2000);
    expect(summary.unmeteredRequests).toBe(0);
    expect(Math.abs(summary.closureDifferenceUsd ?? 1)).toBeLessThan(0.01);
    expect(summary.idleCostUsd).toBeGreaterThan(0);
  });

  it('redelivered events change nothing in the report but the counters', async () => {
    const clean = await report(await simulate('clean.ndjson', ['--seed', '3']), 'clean-report');
    const noisy = await report(
      await simulate('noisy.ndjson', ['--seed', '3', '--duplicates', '0.05']),
      'noisy-report',
    );
    expect(noisy.summary.duplicatesDropped).toBeGreaterThan(0);
    expect(noisy.csv).toBe(clean.csv);
  });
});
