import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMain } from '../helpers/cli.js';

describe('chargeback report --weighting calibrated', () => {
  it("fits each deployment's step costs and says in the summary which were used, and why not", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'calibrated-'));
    const events = join(dir, 'day.ndjson');
    expect(
      (
        await runMain([
          'simulate',
          '--date',
          '2026-11-22',
          '--out',
          events,
          '--pods',
          '3',
          '--requests',
          '9000',
        ])
      ).code,
    ).toBe(0);
    const result = await runMain([
      'report',
      '--events',
      events,
      '--prices',
      'prices/azure-a100.json',
      '--date',
      '2026-11-22',
      '--out',
      dir,
      '--weighting',
      'calibrated',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'summary-2026-11-22.json'), 'utf8')) as {
      calibration: {
        model: string;
        source: string;
        requests: number;
        fitted?: { fixedMs: number };
        reason?: string;
      }[];
      closureDifferenceUsd: number;
    };
    expect(summary.calibration.map((c) => c.model)).toEqual([
      'llama-3.1-8b-instruct',
      'qwen2.5-14b-instruct',
    ]);
    for (const c of summary.calibration) {
      expect(c.source, JSON.stringify(c)).toBe(c.requests >= 500 ? 'fitted' : 'configured');
      if (c.source === 'fitted') expect(c.fitted?.fixedMs).toBeGreaterThan(10);
      else expect(c.reason).toContain('fewer than the 500');
    }
    expect(Math.abs(summary.closureDifferenceUsd)).toBeLessThanOrEqual(0.01);
  });

  it('keeps the fitted constants of an earlier revision of the day in DIR, unless told --refit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'calibrated-restate-'));
    const all = join(dir, 'all.ndjson');
    expect(
      (await runMain(['simulate', '--date', '2026-11-22', '--out', all, '--pods', '3', '--requests', '9000']))
        .code,
    ).toBe(0);
    // The first report sees four events in five; the rest arrive late.
    const lines = readFileSync(all, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const early = join(dir, 'early.ndjson');
    writeFileSync(early, `${lines.filter((_, i) => i % 5 !== 2).join('\n')}\n`);
    const report = async (events: string, out: string, ...more: string[]) => {
      const result = await runMain([
        'report',
        '--events',
        events,
        '--prices',
        'prices/azure-a100.json',
        '--date',
        '2026-11-22',
        '--out',
        out,
        '--weighting',
        'calibrated',
        ...more,
      ]);
      expect(result.code, result.stderr).toBe(0);
      const summary = JSON.parse(readFileSync(join(out, 'summary-2026-11-22.json'), 'utf8')) as {
        revision: number;
        calibration: { source: string; fitted?: Record<string, number> }[];
      };
      const metrics = JSON.parse(readFileSync(join(out, 'metrics-2026-11-22.json'), 'utf8')) as {
        calibration: unknown[];
      };
      expect(metrics.calibration).toEqual(summary.calibration);
      return { ...summary, csv: readFileSync(join(out, 'chargeback-2026-11-22.csv'), 'utf8') };
    };
    const out = join(dir, 'out');
    const first = await report(early, out);
    expect(first.calibration.some((c) => c.source === 'fitted')).toBe(true);
    const restated = await report(all, out);
    expect(restated.revision).toBe(2);
    expect(restated.calibration).toEqual(first.calibration);

    const fresh = await report(all, join(dir, 'fresh'));
    expect(fresh.calibration).not.toEqual(first.calibration);
    const refit = await report(all, out, '--refit');
    expect(refit.revision).toBe(3);
    expect(refit.calibration).toEqual(fresh.calibration);
    expect(refit.csv).toBe(fresh.csv);
    expect(restated.csv).not.toBe(fresh.csv);
  });

  it('refuses --refit without --weighting calibrated', async () => {
    const bad = await runMain([
      'report',
      '--events',
      'x',
      '--prices',
      'p',
      '--date',
      '2026-11-22',
      '--out',
      'o',
      '--refit',
    ]);
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      'chargeback: --refit applies to --weighting calibrated only',
    ]);
  });

  it('names the weightings it knows when given another', async () => {
    const bad = await runMain([
      'report',
      '--events',
      'x',
      '--prices',
      'p',
      '--date',
      '2026-11-22',
      '--out',
      'o',
      '--weighting',
      'magic',
    ]);
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      'chargeback: --weighting must be step-cost, calibrated or time-share, got "magic"',
    ]);
  });
});
