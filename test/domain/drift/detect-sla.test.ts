import { describe, expect, it } from 'vitest';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES, type DriftRules } from '../../../src/domain/drift/rules.js';
import type { DailyMetrics, GroupMetrics } from '../../../src/domain/metrics/metrics.js';
import { day, group, history, TODAY } from './fixture.js';

const ID = 'acme:chat:llama-3-8b:interactive';

function detect(
  today: GroupMetrics,
  past: DailyMetrics[] = history(28),
  open: readonly string[] = [],
  rules: DriftRules = DEFAULT_DRIFT_RULES,
) {
  return detectDrift({ today: day(TODAY, { groups: [today] }), history: past, rules, open: new Set(open) });
}

describe('p95 against the request class SLA', () => {
  it('flags time to first token over the SLA, even with no history at all', () => {
    const report = detect(group({}, { ttftMs: 3000 }), []);
    const alert = report.alerts.find((a) => a.rule === 'p95TtftSla');
    expect(alert).toMatchObject({
      id: `p95TtftSla:${ID}`,
      severity: 'warning',
      metric: 'p95TtftMs',
      value: 2896,
      baseline: 2000,
      threshold: 2000,
    });
    expect(alert?.message).toBe(
      'p95 time to first token of acme / chat on llama-3-8b (interactive) is at least 2,896 ms, 1.45x the ' +
        'interactive SLA of 2,000 ms (no baseline yet).',
    );
  });

  it('names the recent p95 when there is a baseline, and turns critical at 1.5x', () => {
    const alert = detect(group({}, { ttftMs: 4000 })).alerts.find((a) => a.rule === 'p95TtftSla');
    expect(alert?.severity).toBe('critical');
    expect(alert?.message).toContain('(median 362 ms over 4 Mondays).');
  });

  it('flags end-to-end latency over the SLA', () => {
    const alert = detect(group({}, { latencyMs: 40_000 }), []).alerts.find((a) => a.rule === 'p95LatencySla');
    expect(alert).toMatchObject({ severity: 'warning', baseline: 30_000 });
  });

  it('judges each class by its own SLA, and a class without one (and no `*`) not at all', () => {
    expect(detect(group({ requestClass: 'batch' }, { ttftMs: 3000 }), []).alerts).toEqual([]);
    expect(detect(group({ requestClass: 'offline' }, { ttftMs: 1e6 }), []).alerts).toEqual([]);
    const withDefault = { ...DEFAULT_DRIFT_RULES, slas: { '*': { p95LatencyMs: 1e9, p95TtftMs: 1000 } } };
    const report = detect(group({ requestClass: 'offline' }, { ttftMs: 3000 }), [], [], withDefault);
    expect(report.alerts.map((a) => a.rule)).toEqual(['p95TtftSla']);
  });

  it('does not count binning as a breach: a p95 just under the SLA in the same bin does not fire', () => {
    // 1,950 ms sits in the bin [1722, 2048): its lower edge is under the SLA.
    expect(detect(group({}, { ttftMs: 2000 }), []).alerts).toEqual([]);
  });

  it('keeps an open SLA alert down to 0.9x the SLA', () => {
    // The p95 bin's lower edge is 1,722 ms, 0.86x: below the clear level, so it resolves.
    const report = detect(group({}, { ttftMs: 2000 }), [], [`p95TtftSla:${ID}`]);
    expect(report.resolved).toEqual([`p95TtftSla:${ID}`]);
    const rules = {
      ...DEFAULT_DRIFT_RULES,
      rules: {
        ...DEFAULT_DRIFT_RULES.rules,
        p95TtftSla: { ...DEFAULT_DRIFT_RULES.rules.p95TtftSla, clear: { ratio: 0.8 } },
      },
    };
    const held = detect(group({}, { ttftMs: 2000 }), [], [`p95TtftSla:${ID}`], rules);
    expect(held.alerts[0]).toMatchObject({ id: `p95TtftSla:${ID}`, severity: 'warning', threshold: 1600 });
    expect(held.alerts[0]?.message).toContain(
      '0.861x the interactive SLA of 2,000 ms, open until below 1,600 ms (',
    );
  });

  it('needs the minimum volume today', () => {
    expect(detect(group({}, { requests: 50, ttftMs: 9000 }), []).alerts).toEqual([]);
  });
});

describe('prompt-length distribution shift', () => {
  it('flags prompts that moved to another range, with the medians', () => {
    const alert = detect(group({}, { prompt: 1500 })).alerts.find((a) => a.rule === 'promptLengthShift');
    expect(alert).toMatchObject({
      id: `promptLengthShift:${ID}`,
      severity: 'critical',
      baseline: 0,
      threshold: 0.5,
    });
    expect(alert?.value).toBeGreaterThan(0.5);
    expect(alert?.message).toMatch(
      /^Prompt lengths of acme \/ chat on llama-3-8b \(interactive\) shifted \(PSI [\d.]+, critical at 0\.5\): median under 1,722 tokens against a median under 512 tokens over 4 Mondays\.$/,
    );
  });

  it('does not flag the usual mix', () => {
    expect(detect(group({}, { prompt: 520 })).alerts).toEqual([]);
  });

  it('needs the minimum sample count on both sides', () => {
    const small = history(28, () => ({ groups: [group({}, { requests: 200 })] }));
    // Four Mondays of 200 requests: 800 in the baseline, under the 1,000 required.
    expect(
      detect(group({}, { prompt: 1500 }), small).alerts.find((a) => a.rule === 'promptLengthShift'),
    ).toBeUndefined();
    expect(
      detect(group({}, { requests: 900, prompt: 1500 })).alerts.find((a) => a.rule === 'promptLengthShift'),
    ).toBeUndefined();
  });

  it('leaves a baseline day whose own prompts were shifted out of the usual mix', () => {
    // Last Monday's prompts tripled (an incident since over); the other three Mondays were usual.
    const past = history(28, (back) => ({ groups: [group({}, back === 7 ? { prompt: 1500 } : {})] }));
    expect(detect(group({}), past).alerts.find((a) => a.rule === 'promptLengthShift')).toBeUndefined();
  });

  it('says how many shifted days it left out', () => {
    const past = history(28, (back) => ({ groups: [group({}, back === 7 ? { prompt: 1500 } : {})] }));
    const alert = detect(group({}, { prompt: 1500 }), past).alerts.find(
      (a) => a.rule === 'promptLengthShift',
    );
    expect(alert?.message).toMatch(/ over 3 Mondays \(1 shifted day left out\)\.$/);
  });

  it('takes the mix most baseline days had, as a median would, when most of them moved', () => {
    const past = history(28, (back) => ({
      groups: [group({}, back % 7 === 0 && back > 7 ? { prompt: 1500 } : {})],
    }));
    expect(detect(group({})).alerts).toEqual([]);
    expect(detect(group({}), past).alerts.map((a) => a.rule)).toContain('promptLengthShift');
  });
});
