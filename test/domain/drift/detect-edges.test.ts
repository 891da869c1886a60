import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays } from '../../../src/domain/days.js';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES, type DriftRules } from '../../../src/domain/drift/rules.js';
import { BIN_EDGES } from '../../../src/domain/metrics/histogram.js';
import type { DailyMetrics, GroupMetrics } from '../../../src/domain/metrics/metrics.js';
import { capacity, day, group, history, mutableRules, TODAY } from './fixture.js';

const ID = 'acme:chat:llama-3-8b:interactive';
const incident = () => day(TODAY, { groups: [group({}, { costUsd: 400, ttftMs: 4000, errors: 100 })] });
const detect = (
  today: DailyMetrics,
  past: DailyMetrics[],
  open: readonly string[] = [],
  rules = DEFAULT_DRIFT_RULES,
) => detectDrift({ today, history: past, rules, open: new Set(open) });

describe('drift detection at the edges', () => {
  it('with no history raises only the SLA rules, and counts no baseline days', () => {
    const report = detect(incident(), []);
    expect(report.baselineDays).toBe(0);
    expect(report.alerts.map((a) => a.rule)).toEqual(['p95TtftSla']);
  });

  it('with one day of history waits for minBaselineDays, or uses the day when allowed', () => {
    const past = history(1);
    expect(detect(incident(), past).alerts.map((a) => a.rule)).toEqual(['p95TtftSla']);
    const report = detect(incident(), past, [], { ...DEFAULT_DRIFT_RULES, minBaselineDays: 1 });
    expect(report.baselineDays).toBe(1);
    const dailyCost = report.alerts.find((a) => a.rule === 'dailyCost');
    expect(dailyCost?.message).toContain('from a median of $100 over 1 day');
  });

  it('raises nothing for a day without traffic, and resolves what was open', () => {
    const quiet = day(TODAY, {
      groups: [],
      models: [],
      pods: [],
      fleet: { eventsRead: 0, rejected: 0, unmeteredRequests: 0 },
    });
    const report = detect(quiet, history(28), [`dailyCost:${ID}`, 'idleShare:llama-3-8b']);
    expect(report.alerts).toEqual([]);
    expect(report.resolved).toEqual([`dailyCost:${ID}`, 'idleShare:llama-3-8b']);
  });

  it('does not judge a group with zero requests today', () => {
    const zero = group({ requests: 0, errorRequests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 });
    expect(detect(day(TODAY, { groups: [zero] }), history(28)).alerts).toEqual([]);
  });

  it('does not judge a group new today against a baseline it does not have, only reports it new', () => {
    const fresh = group({ tenant: 'newco' }, { costUsd: 400, errors: 100 });
    const report = detect(day(TODAY, { groups: [group(), fresh] }), history(28));
    expect(report.alerts.map((a) => [a.rule, a.scope.tenant])).toEqual([['newFeature', 'newco']]);
  });

  it('judges a zero baseline without dividing by it', () => {
    const past = history(28, () => ({ groups: [group({}, { errors: 0 })] }));
    const alert = detect(day(TODAY, { groups: [group({}, { errors: 60 })] }), past).alerts[0];
    expect(alert).toMatchObject({
      rule: 'errorRate',
      severity: 'critical',
      value: 0.06,
      baseline: 0,
      threshold: 0.05,
    });
    expect(alert?.message).toContain('rose to 6% from a median of 0%');
  });

  it('keeps ids stable from day to day, so a persisting alert is not resolved', () => {
    const first = detect(incident(), history(28));
    const next = detect(
      day(addDays(TODAY, 1), { groups: [group({}, { costUsd: 400, ttftMs: 4000, errors: 100 })] }),
      [...history(28), day(TODAY)],
      first.alerts.map((a) => a.id),
    );
    expect(next.alerts.map((a) => a.id).sort()).toEqual(first.alerts.map((a) => a.id).sort());
    expect(next.resolved).toEqual([]);
  });

  it('lists critical alerts first, then by id, and resolves ids it does not know', () => {
    const report = detect(incident(), history(28), ['retired-rule:x']);
    const severities = report.alerts.map((a) => a.severity);
    expect(severities).toEqual([...severities].sort());
    expect(report.resolved).toEqual(['retired-rule:x']);
  });

  it('judges a group listed twice once', () => {
    const today = day(TODAY, { groups: [group({}, { costUsd: 400 }), group({}, { costUsd: 400 })] });
    const ids = detect(today, history(28)).alerts.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('skips disabled rules', () => {
    const off = mutableRules();
    for (const rule of Object.values(off.rules)) rule.enabled = false;
    expect(detect(incident(), history(28), [], off).alerts).toEqual([]);
  });
});

const count = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 }));
const money = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e5, noNaN: true }));
const histogram = fc.array(fc.nat({ max: 2000 }), { maxLength: BIN_EDGES.latencyMs.length + 2 });
const randomGroup = fc.record({
  tenant: fc.constant('acme'),
  feature: fc.constantFrom('chat', 'search'),
  model: fc.constantFrom('llama-3-8b', 'mistral-7b'),
  requestClass: fc.constantFrom('interactive', 'other'),
  requests: count,
  errorRequests: count,
  abortedRequests: count,
  requestsWithFirstToken: count,
  promptTokens: count,
  completionTokens: count,
  cachedPromptTokens: count,
  gpuSeconds: money,
  costUsd: money,
  histograms: fc.record({
    promptTokens: histogram,
    completionTokens: histogram,
    latencyMs: histogram,
    ttftMs: histogram,
    queueMs: histogram,
  }),
}) as fc.Arbitrary<GroupMetrics>;
const randomCapacity = fc
  .tuple(fc.constantFrom('llama-3-8b', 'mistral-7b'), fc.double({ min: 0, max: 1, noNaN: true }), money)
  .map(([model, idle, cost]) => ({
    ...capacity(model, idle, undefined, cost),
    fleetGpuSeconds: cost === 0 ? 0 : 1e5,
  }));
const randomDay = (date: string) =>
  fc
    .record({
      groups: fc.array(randomGroup, { maxLength: 6 }),
      models: fc.array(randomCapacity, { maxLength: 2 }),
      fleet: fc.record({ eventsRead: count, rejected: count, unmeteredRequests: count }),
    })
    .map((shape) => day(date, shape));

function numbersIn(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(numbersIn);
  return [];
}

/** Every rule on, with no volume minimums and one day of baseline enough, so random days do fire. */
function looseRules(): DriftRules {
  const rules = mutableRules();
  rules.minBaselineDays = 1;
  rules.sameWeekdayMinDays = 1;
  rules.slas['*'] = { p95LatencyMs: 1000, p95TtftMs: 100 };
  for (const rule of Object.values(rules.rules)) {
    if ('minToday' in rule) rule.minToday = { requests: 0, costUsd: 0 };
    if ('minBaseline' in rule) rule.minBaseline = { requests: 0, costUsd: 0 };
    if ('minSamples' in rule) rule.minSamples = 1;
    if ('minEvents' in rule) rule.minEvents = 0;
    if ('minVolume' in rule) rule.minVolume = { requests: 0, costUsd: 0 };
    if ('direction' in rule) rule.direction = 'both';
  }
  return rules;
}

describe('drift detection over random metrics', () => {
  it('never puts NaN or Infinity in the report', () => {
    const loose = looseRules();
    fc.assert(
      fc.property(
        randomDay(TODAY),
        fc.array(
          fc.integer({ min: 1, max: 14 }).chain((back) => randomDay(addDays(TODAY, -back))),
          { maxLength: 8 },
        ),
        fc.boolean(),
        (today, past, openAll) => {
          const open = openAll
            ? new Set(detect(today, past, [], loose).alerts.map((a) => a.id))
            : new Set<string>();
          for (const rules of [DEFAULT_DRIFT_RULES, loose]) {
            const report = detectDrift({ today, history: past, rules, open });
            expect(numbersIn(report).every(Number.isFinite)).toBe(true);
            for (const alert of report.alerts) expect(alert.message).not.toMatch(/NaN|Infinity|undefined/);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
