import { describe, expect, it } from 'vitest';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES, type DriftRules } from '../../../src/domain/drift/rules.js';
import type { DailyMetrics, GroupMetrics } from '../../../src/domain/metrics/metrics.js';
import { day, group, history, mutableRules, TODAY, type DayShape } from './fixture.js';

const ID = 'acme:chat:llama-3-8b:interactive';
const NEWCO = 'newco:chat:llama-3-8b:interactive';
const newco = (costUsd = 40, requests = 1000): GroupMetrics =>
  group({ tenant: 'newco' }, { costUsd, requests });

const detect = (
  groups: readonly GroupMetrics[],
  past: DailyMetrics[] = history(28),
  open: readonly string[] = [],
  rules: DriftRules = DEFAULT_DRIFT_RULES,
) => detectDrift({ today: day(TODAY, { groups }), history: past, rules, open: new Set(open) });

const rulesOf = (report: ReturnType<typeof detect>) => report.alerts.map((a) => a.rule);

describe('new feature', () => {
  it('flags a group that spends for the first time, scoped to the group, with the numbers', () => {
    const alert = detect([group(), newco()]).alerts.find((a) => a.rule === 'newFeature');
    expect(alert).toMatchObject({
      id: `newFeature:${NEWCO}`,
      severity: 'warning',
      scope: { tenant: 'newco', feature: 'chat', model: 'llama-3-8b', requestClass: 'interactive' },
      metric: 'costUsd',
      value: 40,
      baseline: 0,
      threshold: 20,
    });
    expect(alert?.message).toBe(
      'New feature: newco / chat on llama-3-8b (interactive) spent $40 on 1,000 requests, with no traffic ' +
        'on the 28 days before it (reported from $20 and 200 requests a day).',
    );
  });

  it('stays quiet for a new group below the minimum volume', () => {
    expect(detect([group(), newco(5)]).alerts).toEqual([]);
    expect(detect([group(), newco(40, 100)]).alerts).toEqual([]);
  });

  it('says nothing without the history to tell new from old', () => {
    expect(rulesOf(detect([group(), newco()], []))).not.toContain('newFeature');
    expect(rulesOf(detect([group(), newco()], history(2)))).not.toContain('newFeature');
  });

  it('counts a baseline day on which the group sent no requests as no traffic', () => {
    const idle = group({ tenant: 'newco', requests: 0, errorRequests: 0, costUsd: 0 });
    const past = history(28, () => ({ groups: [group(), idle] }));
    expect(rulesOf(detect([group(), newco()], past))).toContain('newFeature');
  });

  it('is not raised for a group seen before, and holds an open alert until the change rules can judge it', () => {
    const since = (days: number) =>
      history(28, (back) => ({ groups: back <= days ? [group(), newco()] : [group()] }));
    expect(rulesOf(detect([group(), newco()], since(1)))).not.toContain('newFeature');
    const held = detect([group(), newco()], since(2), [`newFeature:${NEWCO}`]);
    expect(held.alerts.find((a) => a.rule === 'newFeature')?.message).toContain('(first seen 2 days before)');
    const settled = detect([group(), newco()], since(3), [`newFeature:${NEWCO}`]);
    expect(settled.resolved).toEqual([`newFeature:${NEWCO}`]);
  });

  it('can be turned off', () => {
    const rules = mutableRules();
    rules.rules.newFeature.enabled = false;
    expect(detect([group(), newco()], history(28), [], rules).alerts).toEqual([]);
  });
});

describe('feature gone', () => {
  const other = group({ tenant: 'other' });

  it('flags a group of real spend with no traffic today, scoped to the group', () => {
    const past = history(28, () => ({ groups: [group(), other] }));
    const alert = detect([other], past).alerts.find((a) => a.rule === 'featureGone');
    expect(alert).toMatchObject({
      id: `featureGone:${ID}`,
      severity: 'warning',
      scope: { tenant: 'acme', feature: 'chat', model: 'llama-3-8b', requestClass: 'interactive' },
      metric: 'requests',
      value: 0,
      baseline: 1000,
      threshold: 0,
    });
    expect(alert?.message).toBe(
      'Feature gone: acme / chat on llama-3-8b (interactive) sent no requests, against a median of 1,000 ' +
        'requests and $100 over 4 Mondays.',
    );
  });

  it('counts a group listed with zero requests as gone', () => {
    const past = history(28, () => ({ groups: [group(), other] }));
    const zero = group({ requests: 0, errorRequests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 });
    expect(rulesOf(detect([zero, other], past))).toEqual(['featureGone']);
  });

  it('stays quiet for a group below the minimum volume, and for one that never runs on this weekday', () => {
    const small = history(28, () => ({ groups: [group({}, { costUsd: 5 }), other] }));
    expect(detect([other], small).alerts).toEqual([]);
    const weekdaysOnly = history(28, (back) => ({ groups: back % 7 === 0 ? [other] : [group(), other] }));
    expect(detect([other], weekdaysOnly).alerts).toEqual([]);
  });

  it('raises nothing on a day without any traffic: a metering gap, not every feature leaving', () => {
    expect(detect([]).alerts).toEqual([]);
  });

  it('says nothing with too little history, and resolves when the group is back', () => {
    expect(detect([group({ tenant: 'other' })], history(2)).alerts).toEqual([]);
    const back = detect(
      [group(), other],
      history(28, () => ({ groups: [group(), other] })),
      [`featureGone:${ID}`],
    );
    expect(back.alerts).toEqual([]);
    expect(back.resolved).toEqual([`featureGone:${ID}`]);
  });
});

describe('volume judged on the group, not on its quiet days', () => {
  it('judges a group whose Mondays spend under the minimum, by its typical day of the window', () => {
    // $100 on most days, $10 on Mondays; today (a Monday) its answers are three times as long.
    const shape = (back: number): DayShape => ({
      groups: [group({}, { costUsd: back % 7 === 0 ? 10 : 100 })],
    });
    const today = group({}, { costUsd: 12, completion: 600 });
    expect(rulesOf(detect([today], history(28, shape)))).toEqual(['completionTokensPerRequest']);
  });

  it('still needs the requests on the day', () => {
    const today = group({}, { requests: 100, completion: 600 });
    expect(rulesOf(detect([today]))).toEqual([]);
  });
});

describe('error rate, in failed requests', () => {
  const past = (requests: number) =>
    history(28, () => ({ groups: [group({}, { requests, errors: Math.round(requests * 0.005) })] }));

  it('does not flag a handful more errors in a small group, though the rate doubles', () => {
    const today = group({}, { requests: 600, errors: 8 });
    expect(rulesOf(detect([today], past(600)))).toEqual([]);
  });

  it('flags a tripled rate in a large group, well under a point', () => {
    const today = group({}, { requests: 100_000, errors: 1500 });
    const alert = detect([today], past(100_000)).alerts.find((a) => a.rule === 'errorRate');
    expect(alert).toMatchObject({ severity: 'warning', value: 0.015, baseline: 0.005, threshold: 0.01 });
  });

  it('has no figure for a day of zero requests', () => {
    const zero = group({ requests: 0, errorRequests: 0, costUsd: 0 });
    const report = detect([zero, group({ tenant: 'other' })], past(1000));
    expect(report.alerts.every((a) => Number.isFinite(a.value) && Number.isFinite(a.threshold))).toBe(true);
    expect(rulesOf(report)).not.toContain('errorRate');
  });
});

describe('data quality, from 25,000 events', () => {
  const fleet = (eventsRead: number, rejected: number): DayShape => ({ fleet: { eventsRead, rejected } });
  const detectFleet = (today: DayShape, back: DayShape) =>
    detectDrift({
      today: day(TODAY, today),
      history: history(28, () => back),
      rules: DEFAULT_DRIFT_RULES,
      open: new Set(),
    });

  it('flags rejections fifteen times as many, under half a point of the events', () => {
    const alert = detectFleet(fleet(2_000_000, 9000), fleet(2_000_000, 600)).alerts[0];
    expect(alert).toMatchObject({ rule: 'rejectedShare', severity: 'warning', value: 0.0045 });
  });

  it('needs 25,000 events read', () => {
    expect(detectFleet(fleet(20_000, 200), fleet(20_000, 5)).alerts).toEqual([]);
  });
});

it('finds a gone feature in a history given in any order', () => {
  const past = history(28, () => ({ groups: [group(), group({ tenant: 'other' })] })).reverse();
  expect(rulesOf(detect([group({ tenant: 'other' })], past))).toEqual(['featureGone']);
});
