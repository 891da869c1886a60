import { describe, expect, it } from 'vitest';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES, type DriftRules } from '../../../src/domain/drift/rules.js';
import type { GroupMetrics } from '../../../src/domain/metrics/metrics.js';
import { day, group, history, TODAY, type GroupShape } from './fixture.js';

const ID = 'acme:chat:llama-3-8b:interactive';

function detect(today: GroupShape, open: readonly string[] = [], rules: DriftRules = DEFAULT_DRIFT_RULES) {
  return detectDrift({
    today: day(TODAY, { groups: [group({}, today)] }),
    history: history(28),
    rules,
    open: new Set(open),
  });
}

const alertOf = (report: ReturnType<typeof detect>, rule: string) =>
  report.alerts.find((a) => a.rule === rule);

describe('group change rules against the median of the same weekday', () => {
  it('raise nothing on an ordinary day', () => {
    expect(detect({}).alerts).toEqual([]);
  });

  it('flag cost per 1k tokens that rose, in money terms, with the numbers in one sentence', () => {
    const alert = alertOf(detect({ costUsd: 250 }), 'costPer1kTokens');
    expect(alert).toMatchObject({
      id: `costPer1kTokens:${ID}`,
      severity: 'critical',
      scope: { tenant: 'acme', feature: 'chat', model: 'llama-3-8b', requestClass: 'interactive' },
      metric: 'costPer1kTokensUsd',
    });
    expect(alert?.value).toBeCloseTo(250 / 700, 9);
    expect(alert?.baseline).toBeCloseTo(100 / 700, 9);
    expect(alert?.message).toBe(
      'Cost per 1k tokens of acme / chat on llama-3-8b (interactive) rose 150% to $0.357 from a median of ' +
        '$0.143 over 4 Mondays (critical at $0.286).',
    );
  });

  it('flag the daily cost as a warning between the warning and critical levels', () => {
    const alert = alertOf(detect({ costUsd: 160 }), 'dailyCost');
    expect(alert).toMatchObject({ severity: 'warning', value: 160, baseline: 100, threshold: 150 });
  });

  it('catch a 1.5x cost change of a group at the minimum volume, in money and in rate', () => {
    const small = { requests: 200, costUsd: 20 };
    const report = detectDrift({
      today: day(TODAY, { groups: [group({}, { ...small, costUsd: 30 })] }),
      history: history(28, () => ({ groups: [group({}, small)] })),
      rules: DEFAULT_DRIFT_RULES,
      open: new Set(),
    });
    expect(report.alerts.map((a) => [a.rule, a.severity])).toEqual([
      ['costPer1kTokens', 'warning'],
      ['dailyCost', 'warning'],
    ]);
  });

  it('do not flag a small feature whose cost doubles', () => {
    const rules = DEFAULT_DRIFT_RULES;
    const report = detectDrift({
      today: day(TODAY, { groups: [group({}, { costUsd: 0.8 })] }),
      history: history(28, () => ({ groups: [group({}, { costUsd: 0.4 })] })),
      rules: {
        ...rules,
        rules: {
          ...rules.rules,
          dailyCost: {
            ...rules.rules.dailyCost,
            minToday: { requests: 0, costUsd: 0 },
            minBaseline: { requests: 0, costUsd: 0 },
          },
        },
      },
      open: new Set(),
    });
    expect(report.alerts).toEqual([]);
  });

  it('flag answers three times as long', () => {
    const alert = alertOf(detect({ completion: 600 }), 'completionTokensPerRequest');
    expect(alert).toMatchObject({ severity: 'critical', value: 600, baseline: 200, threshold: 400 });
  });

  it('flag prompts 1.6 times as long', () => {
    expect(alertOf(detect({ prompt: 800 }), 'promptTokensPerRequest')).toMatchObject({
      severity: 'warning',
      value: 800,
      baseline: 500,
    });
  });

  it('flag an error rate that jumps', () => {
    const alert = alertOf(detect({ errors: 80 }), 'errorRate');
    expect(alert).toMatchObject({ severity: 'critical', value: 0.08, baseline: 0.005 });
    expect(alert?.message).toContain('rose 1,500% to 8% from a median of 0.5% over 4 Mondays');
  });

  it('flag a p95 latency regression that is still within the SLA', () => {
    const report = detect({ latencyMs: 15_000 });
    expect(alertOf(report, 'p95LatencyRegression')?.severity).toBe('critical');
    expect(alertOf(report, 'p95LatencySla')).toBeUndefined();
  });

  it('compare with the same weekday: a Monday peak is not drift when Mondays always peak', () => {
    const mondaysPeak = (back: number) => ({ groups: [group({}, { costUsd: back % 7 === 0 ? 300 : 100 })] });
    const report = detectDrift({
      today: day(TODAY, { groups: [group({}, { costUsd: 300 })] }),
      history: history(28, mondaysPeak),
      rules: DEFAULT_DRIFT_RULES,
      open: new Set(),
    });
    expect(alertOf(report, 'dailyCost')).toBeUndefined();
  });

  it('are not moved by one incident day inside the baseline', () => {
    const incident = (back: number) => ({ groups: [group({}, { costUsd: back === 7 ? 1000 : 100 })] });
    const report = detectDrift({
      today: day(TODAY, { groups: [group({}, { costUsd: 250 })] }),
      history: history(28, incident),
      rules: DEFAULT_DRIFT_RULES,
      open: new Set(),
    });
    expect(alertOf(report, 'dailyCost')?.baseline).toBe(100);
  });

  it('keep an open alert while the change stays above the clear level, and resolve it below', () => {
    const held = detect({ costUsd: 140 }, [`dailyCost:${ID}`]);
    expect(alertOf(held, 'dailyCost')).toMatchObject({ severity: 'warning', threshold: 125 });
    expect(alertOf(held, 'dailyCost')?.message).toContain('(open until below $125).');
    expect(held.resolved).toEqual([]);
    expect(alertOf(detect({ costUsd: 140 }), 'dailyCost')).toBeUndefined();
    expect(detect({ costUsd: 110 }, [`dailyCost:${ID}`]).resolved).toEqual([`dailyCost:${ID}`]);
  });

  it('count a baseline day without traffic as zero spend but leave it out of ratios', () => {
    const gaps = (back: number): { groups: GroupMetrics[] } => ({ groups: back % 14 === 0 ? [] : [group()] });
    const report = detectDrift({
      today: day(TODAY, { groups: [group({}, { costUsd: 250 })] }),
      history: history(28, gaps),
      rules: { ...DEFAULT_DRIFT_RULES, minBaselineDays: 1 },
      open: new Set(),
    });
    // Two of four Mondays without traffic: the median day spent 50, and the ratio uses the two others.
    expect(alertOf(report, 'dailyCost')?.baseline).toBe(50);
    expect(alertOf(report, 'costPer1kTokens')?.message).toContain('over 2 Mondays');
  });
});
