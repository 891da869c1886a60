import { describe, expect, it } from 'vitest';
import type { Alert, AlertScope, DriftReport } from '../../src/domain/drift/alert.js';
import type { DailyMetrics } from '../../src/domain/metrics/metrics.js';
import type { Incident, IncidentKind } from '../../dev/drift-history/incidents.js';
import { runDetection, scoreDetection, type DayOutcome } from '../../dev/drift-history/score.js';

const CHAT: AlertScope = { tenant: 'contoso', feature: 'chat', model: 'm', requestClass: 'interactive' };
const OTHER: AlertScope = { tenant: 'fabrikam', feature: 'chat', model: 'm', requestClass: 'interactive' };

const incident = (
  kind: IncidentKind,
  day: number,
  duration: number,
  scope: AlertScope,
  expectAlert = true,
): Incident => ({
  kind,
  day,
  duration,
  size: 3,
  scope,
  expectAlert,
  date: `d${day}`,
  lastDate: `d${day + duration - 1}`,
});

const alert = (rule: string, scope: AlertScope): Alert => ({
  id: `${rule} ${JSON.stringify(scope)}`,
  rule,
  severity: 'warning',
  scope,
  metric: rule,
  value: 2,
  baseline: 1,
  threshold: 1.5,
  message: '',
});

/** Day outcomes from the alerts of each day, the open set carried over as the daily run does. */
function days(...alertsByDay: Alert[][]): DayOutcome[] {
  let open = new Set<string>();
  return alertsByDay.map((alerts, day) => {
    const report: DriftReport = { date: `d${day}`, baselineDays: day, alerts, resolved: [] };
    const outcome = { day, report, openBefore: open };
    open = new Set(alerts.map((a) => a.id));
    return outcome;
  });
}

describe('scoreDetection', () => {
  it('counts an incident caught on its first day by an alert on its group with a matching rule', () => {
    const score = scoreDetection(
      [incident('completion-growth', 1, 2, CHAT)],
      days([], [alert('tokens-per-request', CHAT)]),
      0,
    );
    expect(score.incidents[0]).toMatchObject({ status: 'first-day', delay: 0 });
    expect(score.byKind['completion-growth']).toEqual({ incidents: 1, firstDay: 1, late: 0, missed: 0 });
  });

  it('counts a catch by a broader scope, and one on a later day as late by that many days', () => {
    const model = { model: 'm' };
    const score = scoreDetection(
      [incident('latency', 0, 3, { model: 'm', pod: 'p1' })],
      days([], [], [alert('p95-latency', model)]),
      0,
    );
    expect(score.incidents[0]).toMatchObject({ status: 'late', delay: 2 });
  });

  it('misses an incident when only other rules fire, or the alert comes after it ended', () => {
    const outcomes = days([alert('idle-share', CHAT)], [alert('error-rate', CHAT)]);
    const score = scoreDetection([incident('cost-per-token', 0, 1, CHAT)], outcomes, 0);
    expect(score.incidents[0]?.status).toBe('missed');
    expect(score.collateral).toBe(1); // the idle alert on its scope that day; the next day's is false
    expect(score.falseAlerts).toHaveLength(1);
  });

  it('counts each false alert once, on the day it is raised, not every day it stays open', () => {
    const noise = alert('error-rate', OTHER);
    const score = scoreDetection([], days([], [noise], [noise], [noise], [], [], [noise]), 0);
    expect(score.falseAlerts.map((f) => f.day)).toEqual([1, 6]);
    expect(score.falsePerWeek).toBeCloseTo(2, 6);
  });

  it('does not score the days that build the first baseline', () => {
    const score = scoreDetection([], days([alert('error-rate', OTHER)], []), 1);
    expect([score.falseAlerts.length, score.scoredDays]).toEqual([0, 1]);
  });

  it('lets a fleet-wide incident explain only the alerts of its own rule', () => {
    const outcomes = days([alert('rejected-events', {}), alert('error-rate', OTHER)]);
    const score = scoreDetection([incident('data-quality', 0, 1, {})], outcomes, 0);
    expect(score.incidents[0]?.status).toBe('first-day');
    expect(score.falseAlerts.map((f) => f.alert.rule)).toEqual(['error-rate']);
  });

  it('wants an alert naming the feature for a feature that appears or disappears', () => {
    const gone = incident('feature-gone', 0, 5, CHAT);
    expect(scoreDetection([gone], days([alert('idle-share', { model: 'm' })]), 0).incidents[0]?.status).toBe(
      'missed',
    );
    expect(scoreDetection([gone], days([alert('volume-drop', CHAT)]), 0).incidents[0]?.status).toBe(
      'first-day',
    );
  });

  it('does not let a prompt-length alert catch answers that grew', () => {
    const grown = incident('completion-growth', 0, 1, CHAT);
    const prompt = alert('promptTokensPerRequest', CHAT);
    expect(scoreDetection([grown], days([prompt]), 0).incidents[0]?.status).toBe('missed');
    const answers = alert('completionTokensPerRequest', CHAT);
    expect(scoreDetection([grown], days([answers]), 0).incidents[0]?.status).toBe('first-day');
  });

  it('reports a below-threshold incident as quiet or alerted, never as missed', () => {
    const small = incident('completion-growth', 0, 1, CHAT, false);
    expect(scoreDetection([small], days([]), 0).incidents[0]?.status).toBe('quiet');
    expect(scoreDetection([small], days([alert('tokens-per-request', CHAT)]), 0).incidents[0]?.status).toBe(
      'alerted',
    );
    expect(scoreDetection([small], days([]), 0).byKind['completion-growth'].incidents).toBe(0);
  });
});

describe('runDetection', () => {
  it('hands the detector at most baselineDays of history and the alerts open the day before', () => {
    const metrics = [0, 1, 2, 3].map((i) => ({ date: `d${i}` }) as unknown as DailyMetrics);
    const seen: { history: string[]; open: string[] }[] = [];
    runDetection(
      metrics,
      ({ today, history, open }) => {
        seen.push({ history: history.map((d) => d.date), open: [...open] });
        return {
          date: today.date,
          baselineDays: history.length,
          alerts: [alert(`r-${today.date}`, {})],
          resolved: [],
        };
      },
      { baselineDays: 2 },
    );
    expect(seen.map((s) => s.history)).toEqual([[], ['d0'], ['d0', 'd1'], ['d1', 'd2']]);
    expect(seen.map((s) => s.open.length)).toEqual([0, 1, 1, 1]);
    expect(seen[3]?.open[0]).toContain('r-d2');
  });
});
