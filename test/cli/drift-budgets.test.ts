import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DriftReport } from '../../src/domain/drift/alert.js';
import { addDays } from '../../src/domain/days.js';
import { renderMetrics } from '../../src/domain/metrics/build.js';
import type { BudgetScopeMetrics } from '../../src/domain/metrics/metrics.js';
import { runMain } from '../helpers/cli.js';
import { day, TODAY } from '../domain/drift/fixture.js';

const NEXT = addDays(TODAY, 1);

const acme = (estimateUsd: number, exactUsd: number): BudgetScopeMetrics => ({
  scope: { tenant: 'acme' },
  periods: ['month'],
  estimateUsd,
  exactUsd,
  estimateGpuHours: estimateUsd / 3.673,
  exactGpuHours: exactUsd / 3.673,
  relativeError: (estimateUsd - exactUsd) / exactUsd,
});

describe('chargeback drift over exported reports with budgets', () => {
  it("judges the budgets' estimate error, then resolves it on a day estimated right", async () => {
    const reports = mkdtempSync(join(tmpdir(), 'drift-budgets-'));
    const out = mkdtempSync(join(tmpdir(), 'drift-budgets-out-'));
    // Two exported days: acme's estimate four times the report's figure, then right.
    writeFileSync(
      join(reports, `metrics-${TODAY}.json`),
      renderMetrics(day(TODAY, { budgets: [acme(40, 10)] })),
    );
    writeFileSync(
      join(reports, `metrics-${NEXT}.json`),
      renderMetrics(day(NEXT, { budgets: [acme(10.5, 10)] })),
    );
    const read = (d: string) =>
      JSON.parse(readFileSync(join(out, `alerts-${d}.json`), 'utf8')) as DriftReport;

    const first = await runMain(['drift', '--reports', reports, '--date', TODAY, '--out', out]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(read(TODAY).alerts.map((a) => [a.id, a.severity, a.value, a.baseline])).toEqual([
      ['budgetEstimateError:acme:*', 'critical', 40, 10],
    ]);

    const second = await runMain(['drift', '--reports', reports, '--date', NEXT, '--out', out]);
    expect(second.code).toBe(0);
    expect(read(NEXT).alerts).toEqual([]);
    expect(read(NEXT).resolved).toEqual(['budgetEstimateError:acme:*']);
  });
});
