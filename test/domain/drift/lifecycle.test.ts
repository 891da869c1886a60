import { describe, expect, it } from 'vitest';
import type { Alert, DriftReport, Severity } from '../../../src/domain/drift/alert.js';
import { openBefore, planLifecycle, type AlertState } from '../../../src/domain/drift/lifecycle.js';

function alert(value: number, severity: Severity = 'warning', id = 'a'): Alert {
  return {
    id,
    rule: 'costPer1k',
    severity,
    scope: { feature: 'chat' },
    metric: 'costPer1kTokensUsd',
    value,
    baseline: 1,
    threshold: 1.5,
    message: `cost per 1k tokens at ${value}`,
  };
}

function report(date: string, alerts: Alert[], resolved: string[] = []): DriftReport {
  return { date, baselineDays: 28, alerts, resolved };
}

/** Runs days one after another, carrying the states as the store would. */
function run(days: DriftReport[]): { kinds: string[][]; states: Map<string, AlertState> } {
  const states = new Map<string, AlertState>();
  const kinds: string[][] = [];
  for (const day of days) {
    const plan = planLifecycle(day, states);
    kinds.push(plan.posts.map((p) => `${p.kind}:${p.id}`));
    for (const s of plan.states) states.set(s.id, s);
  }
  return { kinds, states };
}

describe('the alert lifecycle', () => {
  it('posts a new alert once, then keeps quiet while it persists unchanged', () => {
    const { kinds } = run([
      report('2026-11-01', [alert(2)]),
      report('2026-11-02', [alert(2.1)]),
      report('2026-11-03', [alert(1.9)]),
    ]);
    expect(kinds).toEqual([['raised:a'], [], []]);
  });

  it('posts again when the alert gets worse: severity up, or its distance from the baseline grows 1.5-fold', () => {
    expect(
      run([report('2026-11-01', [alert(2)]), report('2026-11-02', [alert(2, 'critical')])]).kinds,
    ).toEqual([['raised:a'], ['worse:a']]);
    expect(run([report('2026-11-01', [alert(2)]), report('2026-11-02', [alert(2.4)])]).kinds[1]).toEqual([]);
    expect(run([report('2026-11-01', [alert(2)]), report('2026-11-02', [alert(2.5)])]).kinds[1]).toEqual([
      'worse:a',
    ]);
  });

  it('re-notifies an alert left open for seven days since its last post', () => {
    const days = Array.from({ length: 8 }, (_, i) => report(`2026-11-0${i + 1}`, [alert(2)]));
    expect(run(days).kinds).toEqual([['raised:a'], [], [], [], [], [], [], ['renotify:a']]);
  });

  it('resolves with one post, and a later return is raised anew', () => {
    const { kinds, states } = run([
      report('2026-11-01', [alert(2)]),
      report('2026-11-02', [], ['a']),
      report('2026-11-03', []),
      report('2026-11-04', [alert(2)]),
    ]);
    expect(kinds).toEqual([['raised:a'], ['resolved:a'], [], ['raised:a']]);
    expect(states.get('a')?.openedOn).toBe('2026-11-04');
  });

  it('never posts twice for the same day run again, nor for an older day restated', () => {
    const states = new Map<string, AlertState>();
    const apply = (r: DriftReport): string[] => {
      const plan = planLifecycle(r, states);
      for (const s of plan.states) states.set(s.id, s);
      return plan.posts.map((p) => p.kind);
    };
    expect(apply(report('2026-11-01', [alert(2)]))).toEqual(['raised']);
    expect(apply(report('2026-11-01', [alert(3, 'critical')]))).toEqual([]);
    expect(apply(report('2026-11-03', [alert(2)]))).toEqual([]);
    // 2026-11-02 restated after 2026-11-03 was run: today's state stands, nothing is posted.
    expect(apply(report('2026-11-02', [alert(5, 'critical')], []))).toEqual([]);
    expect(states.get('a')?.lastSeenOn).toBe('2026-11-03');
  });

  it('gives the detection the ids open before a day, not those raised on it', () => {
    const { states } = run([
      report('2026-11-01', [alert(2)]),
      report('2026-11-02', [alert(2, 'warning', 'b')]),
    ]);
    expect([...openBefore(states.values(), '2026-11-02')]).toEqual(['a']);
    expect([...openBefore(states.values(), '2026-11-03')].sort()).toEqual(['a', 'b']);
  });

  it('ignores a resolved id that was not open', () => {
    expect(run([report('2026-11-01', [], ['never-opened'])]).kinds).toEqual([[]]);
  });
});
