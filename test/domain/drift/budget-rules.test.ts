import { describe, expect, it } from 'vitest';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES, parseDriftRules, type DriftRules } from '../../../src/domain/drift/rules.js';
import { NO_EXACT_SPEND, type BudgetScopeMetrics } from '../../../src/domain/metrics/metrics.js';
import { day, history, TODAY } from './fixture.js';

const rule = DEFAULT_DRIFT_RULES.rules.budgetEstimateError;

/** A scope's closed day as the metrics file holds it. */
function scope(estimateUsd: number, exactUsd: number, tenant = 'acme'): BudgetScopeMetrics {
  return {
    scope: { tenant },
    periods: ['month'],
    estimateUsd,
    exactUsd,
    estimateGpuHours: estimateUsd,
    exactGpuHours: exactUsd,
    ...(exactUsd === 0
      ? { relativeError: null, reason: NO_EXACT_SPEND }
      : { relativeError: (estimateUsd - exactUsd) / exactUsd }),
  };
}

/** The day's budget alerts only (the steady fleet of the fixture raises nothing else). */
function detect(
  budgets: readonly BudgetScopeMetrics[] | undefined,
  open: ReadonlySet<string> = new Set(),
  rules: DriftRules = DEFAULT_DRIFT_RULES,
) {
  return detectDrift({
    today: day(TODAY, budgets === undefined ? {} : { budgets }),
    history: history(28),
    rules,
    open,
  });
}

const withRule = (change: Partial<typeof rule>): DriftRules => ({
  ...DEFAULT_DRIFT_RULES,
  rules: { ...DEFAULT_DRIFT_RULES.rules, budgetEstimateError: { ...rule, ...change } },
});

describe('budgetEstimateError, judged by drift detection from the day metrics', () => {
  it('fires at the warning and critical levels, either way, and not below', () => {
    const { alerts } = detect([
      scope(12, 10, 'a'),
      scope(13, 10, 'b'),
      scope(7, 10, 'c'),
      scope(15, 10, 'd'),
      scope(4, 10, 'e'),
    ]);
    expect(alerts.map((a) => [a.scope.tenant, a.severity, a.value, a.baseline])).toEqual([
      ['d', 'critical', 15, 10],
      ['e', 'critical', 4, 10],
      ['b', 'warning', 13, 10],
      ['c', 'warning', 7, 10],
    ]);
    expect(alerts[2]?.threshold).toBeCloseTo(12.5, 12);
    expect(alerts[3]?.threshold).toBeCloseTo(7.5, 12);
    expect(alerts[3]?.message).toContain('30% low');
  });

  it('needs no history: a day without baseline days is judged against its own exact figure', () => {
    const report = detectDrift({
      today: day(TODAY, { budgets: [scope(20, 10)] }),
      history: [],
      rules: DEFAULT_DRIFT_RULES,
      open: new Set(),
    });
    expect(report.alerts.map((a) => a.id)).toEqual(['budgetEstimateError:acme:*']);
  });

  it('keeps an open alert down to the clear level, then lists it as resolved', () => {
    const [raised] = detect([scope(13, 10)]).alerts;
    expect(raised?.id).toBe('budgetEstimateError:acme:*');
    const ids = new Set([raised?.id ?? '']);
    const held = detect([scope(11.6, 10)], ids);
    expect(held.alerts.map((a) => [a.id, a.severity])).toEqual([[raised?.id, 'warning']]);
    expect(held.resolved).toEqual([]);
    const back = detect([scope(11.4, 10)], ids);
    expect(back.alerts).toEqual([]);
    expect(back.resolved).toEqual([raised?.id]);
    expect(detect([scope(11.6, 10)]).alerts).toEqual([]);
  });

  it('resolves an open alert on a day whose metrics have no budgets section', () => {
    const ids = new Set(['budgetEstimateError:acme:*']);
    expect(detect(undefined, ids).resolved).toEqual(['budgetEstimateError:acme:*']);
  });

  it('judges no scope under minExactUsd, none without exact spend, and nothing when disabled', () => {
    expect(detect([scope(0.9, 0.5, 'small'), scope(5, 0, 'none')]).alerts).toEqual([]);
    // Even with no minimum, a scope without exact spend has no ratio to judge.
    expect(detect([scope(5, 0, 'none')], new Set(), withRule({ minExactUsd: 0 })).alerts).toEqual([]);
    expect(detect([scope(50, 10)], new Set(), withRule({ enabled: false })).alerts).toEqual([]);
  });

  it('gives a hostile tenant its own id and quotes it in the message', () => {
    const [a] = detect([scope(50, 10, 'a:b/#?"')]).alerts;
    expect(a?.id).toBe('budgetEstimateError:a%3Ab%2F%23%3F%22:*');
    expect(a?.message).toContain('tenant "a:b/#?\\""');
    const ids = detect([scope(50, 10, 'a'), scope(50, 10, 'b')]).alerts.map((x) => x.id);
    expect(new Set(ids).size).toBe(2);
  });

  it('is read from a rules file, with the default when the file predates it, and refuses bad levels', () => {
    const raw = JSON.parse(JSON.stringify(DEFAULT_DRIFT_RULES)) as { rules: Record<string, unknown> };
    delete raw.rules['budgetEstimateError'];
    expect(parseDriftRules(raw).rules.budgetEstimateError).toEqual(rule);
    raw.rules['budgetEstimateError'] = { ...rule, clear: { relative: 0.4 } };
    expect(() => parseDriftRules(raw)).toThrow(/rules\.budgetEstimateError\.clear/);
  });
});
