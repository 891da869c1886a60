import { describe, expect, it } from 'vitest';
import { parseMetrics, renderMetrics } from '../../../src/domain/metrics/build.js';
import { NO_EXACT_SPEND, type BudgetScopeMetrics } from '../../../src/domain/metrics/metrics.js';
import { day, TODAY } from '../drift/fixture.js';

const off: BudgetScopeMetrics = {
  scope: { tenant: 'acme' },
  periods: ['day', 'month'],
  estimateUsd: 12.5,
  exactUsd: 10,
  estimateGpuHours: 5,
  exactGpuHours: 4,
  relativeError: 0.25,
};
const unspent: BudgetScopeMetrics = {
  scope: { tenant: 'acme', feature: 'search' },
  periods: ['month'],
  estimateUsd: 0.4,
  exactUsd: 0,
  estimateGpuHours: 0.1,
  exactGpuHours: 0,
  relativeError: null,
  reason: NO_EXACT_SPEND,
};

/** The day's file with its first budget entry's fields replaced (a field set to undefined is removed). */
function withEntry(change: Record<string, unknown>): string {
  const json = JSON.parse(renderMetrics(day(TODAY, { budgets: [off] }))) as { budgets: object[] };
  json.budgets[0] = { ...json.budgets[0], ...change };
  return JSON.stringify(json);
}

describe("the metrics file's budgets section", () => {
  it('reads back as written, a scope without exact spend with a null error and its reason', () => {
    const written = renderMetrics(day(TODAY, { budgets: [off, unspent] }));
    expect(written).toContain('"schemaVersion": 1');
    expect(parseMetrics(written).budgets).toEqual([off, unspent]);
  });

  it('is absent from a day without budgets, and such a day (an older one) reads', () => {
    const older = renderMetrics(day(TODAY));
    expect(older).not.toContain('budgets');
    expect(parseMetrics(older).budgets).toBeUndefined();
  });

  it('refuses an error given for a scope without exact spend, naming the field', () => {
    expect(() => parseMetrics(withEntry({ exactUsd: 0, exactGpuHours: 0 }))).toThrow(
      /budgets\[0\]\.relativeError must be null when exactUsd is 0/,
    );
  });

  it('refuses a null error for a scope with exact spend, naming the field', () => {
    expect(() => parseMetrics(withEntry({ relativeError: null, reason: NO_EXACT_SPEND }))).toThrow(
      /budgets\[0\]\.relativeError must be a number when exactUsd is above 0/,
    );
  });

  it('refuses a null error without its reason, and a reason beside a figure', () => {
    expect(() => parseMetrics(withEntry({ exactUsd: 0, exactGpuHours: 0, relativeError: null }))).toThrow(
      /budgets\[0\]\.reason must be "no exact spend" exactly when relativeError is null/,
    );
    expect(() => parseMetrics(withEntry({ reason: NO_EXACT_SPEND }))).toThrow(/budgets\[0\]\.reason/);
  });

  it('refuses a scope with neither name, a missing figure, a negative one, or an unknown period', () => {
    expect(() => parseMetrics(withEntry({ scope: {} }))).toThrow(
      /budgets\[0\]\.scope must name a tenant, a feature, or both/,
    );
    expect(() => parseMetrics(withEntry({ exactUsd: undefined }))).toThrow(/budgets\[0\]\.exactUsd/);
    expect(() => parseMetrics(withEntry({ estimateUsd: -1 }))).toThrow(/budgets\[0\]\.estimateUsd/);
    expect(() => parseMetrics(withEntry({ periods: ['week'] }))).toThrow(/budgets\[0\]\.periods\[0\]/);
    expect(() => parseMetrics(withEntry({ periods: [] }))).toThrow(
      /budgets\[0\]\.periods must name at least one period/,
    );
  });

  it('refuses a budgets section that is not an array, naming it', () => {
    const json = JSON.parse(renderMetrics(day(TODAY))) as Record<string, unknown>;
    json['budgets'] = { acme: 1 };
    expect(() => parseMetrics(JSON.stringify(json))).toThrow(/metrics file: budgets /);
  });
});
