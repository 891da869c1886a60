import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

  it("writes each pod's vLLM metrics as scrapes that chargeback calibrate reads", async () => {
    const prom = join(dir, 'prom');
    const out: string[] = [];
    const capture = { write: (text: string) => out.push(text) > 0 } as unknown as NodeJS.WritableStream;
    const events = join(dir, 'scraped.ndjson');
    const args = ['simulate', '--date', DAY, '--out', events, '--pods', '3', '--requests', '3000'];
    expect(
      await main([...args, '--seed', '5', '--prometheus', prom, '--scrape-interval', '900'], {
        stdout: capture,
        stderr: sink,
      }),
    ).toBe(0);
    // The events are the ones written without scrapes.
    expect(readFileSync(events, 'utf8')).toBe(
      readFileSync(await simulate('unscraped.ndjson', ['--seed', '5']), 'utf8'),
    );
    const pods = readdirSync(prom).sort();
    expect(pods).toHaveLength(3);
    const files = readdirSync(join(prom, pods[0] ?? '')).sort();
    // 96 quarter-hours from midnight to midnight, both ends scraped (more if a request ran past midnight).
    expect(files.length).toBeGreaterThanOrEqual(97);
    expect(files.slice(0, 2)).toEqual(['scrape-0001.prom', 'scrape-0002.prom']);
    expect(out.join('')).toContain(`Prometheus scrapes under ${prom}`);
    const model = /model_name="([^"]+)"/.exec(
      readFileSync(join(prom, pods[0] ?? '', files[0] ?? ''), 'utf8'),
    )?.[1];
    expect(model).toMatch(/llama|qwen/);

    out.length = 0;
    const metrics = files.flatMap((f) => ['--metrics', join(prom, pods[0] ?? '', f)]);
    expect(await main(['calibrate', ...metrics], { stdout: capture, stderr: sink })).toBe(0);
    expect(out.join('')).toMatch(new RegExp(`${model ?? '?'}: fixed step [\\d.]+ ms, .* from \\d+ interval`));
  });

  it('refuses scrape options that cannot be honoured', async () => {
    const errors: string[] = [];
    const capture = { write: (text: string) => errors.push(text) > 0 } as unknown as NodeJS.WritableStream;
    const run = (extra: string[]) =>
      main(['simulate', '--date', DAY, '--out', join(dir, 'refused.ndjson'), ...extra], {
        stdout: sink,
        stderr: capture,
      });
    expect(await run(['--scrape-interval', '60'])).toBe(2);
    expect(await run(['--prometheus', join(dir, 'p2'), '--scrape-interval', '5'])).toBe(2);
    const used = join(dir, 'used');
    mkdirSync(used);
    writeFileSync(join(used, 'old.prom'), '');
    expect(await run(['--prometheus', used])).toBe(2);
    expect(errors.join('')).toMatch(
      /--scrape-interval needs --prometheus[\s\S]*from 15 to 3600[\s\S]*not empty/,
    );
  });
});
