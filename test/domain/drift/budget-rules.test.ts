import { describe, expect, it } from 'vitest';
import { budgetEstimateAlerts } from '../../../src/domain/drift/budget-rules.js';
import { DEFAULT_DRIFT_RULES, parseDriftRules } from '../../../src/domain/drift/rules.js';

const rule = DEFAULT_DRIFT_RULES.rules.budgetEstimateError;
const day = (estimateUsd: number, exactUsd: number, tenant = 'acme') => ({
  scope: { tenant },
  estimateUsd,
  exactUsd,
});

describe('budgetEstimateError', () => {
  it('fires at the warning and critical levels, either way, and not below', () => {
    const alerts = budgetEstimateAlerts(
      rule,
      [day(12, 10, 'a'), day(13, 10, 'b'), day(7, 10, 'c'), day(15, 10, 'd'), day(4, 10, 'e')],
      new Set(),
    );
    expect(alerts.map((a) => [a.scope.tenant, a.severity, a.value, a.baseline])).toEqual([
      ['b', 'warning', 13, 10],
      ['c', 'warning', 7, 10],
      ['d', 'critical', 15, 10],
      ['e', 'critical', 4, 10],
    ]);
    expect(alerts[0]?.threshold).toBeCloseTo(12.5, 12);
    expect(alerts[1]?.threshold).toBeCloseTo(7.5, 12);
    expect(alerts[1]?.message).toContain('30% low');
  });

  it('keeps an open alert down to the clear level, then lets it go', () => {
    const open = budgetEstimateAlerts(rule, [day(13, 10)], new Set());
    const ids = new Set(open.map((a) => a.id));
    expect(budgetEstimateAlerts(rule, [day(11.6, 10)], ids).map((a) => a.severity)).toEqual(['warning']);
    expect(budgetEstimateAlerts(rule, [day(11.4, 10)], ids)).toEqual([]);
    expect(budgetEstimateAlerts(rule, [day(11.6, 10)], new Set())).toEqual([]);
  });

  it('judges no day under minExactUsd, none without an exact figure, and nothing when disabled', () => {
    expect(budgetEstimateAlerts(rule, [day(0.9, 0.5), day(5, 0)], new Set())).toEqual([]);
    expect(budgetEstimateAlerts({ ...rule, enabled: false }, [day(50, 10)], new Set())).toEqual([]);
  });

  it('gives a hostile tenant its own id and quotes it in the message', () => {
    const [a] = budgetEstimateAlerts(rule, [day(50, 10, 'a:b/#?"')], new Set());
    expect(a?.id).toBe('budgetEstimateError:a%3Ab%2F%23%3F%22:*');
    expect(a?.message).toContain('tenant "a:b/#?\\""');
    const [b] = budgetEstimateAlerts(rule, [day(50, 10, 'a'), day(50, 10, 'b')], new Set()).slice(1);
    expect(b?.id).not.toBe(a?.id);
  });

  it('is read from a rules file, with the default when the file predates it, and refuses bad levels', () => {
    const raw = JSON.parse(JSON.stringify(DEFAULT_DRIFT_RULES)) as { rules: Record<string, unknown> };
    delete raw.rules['budgetEstimateError'];
    expect(parseDriftRules(raw).rules.budgetEstimateError).toEqual(rule);
    raw.rules['budgetEstimateError'] = { ...rule, clear: { relative: 0.4 } };
    expect(() => parseDriftRules(raw)).toThrow(/rules\.budgetEstimateError\.clear/);
  });
});
