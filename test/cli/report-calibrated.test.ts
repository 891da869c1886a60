import { mkdtempSync, readFileSync } from 'node:fs';
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
