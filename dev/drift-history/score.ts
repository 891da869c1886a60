import type { Alert, DriftReport } from '../../src/domain/drift/alert.js';
import type { DailyMetrics } from '../../src/domain/metrics/metrics.js';
import { INCIDENT_KINDS, isActive, scopesAgree, type Incident, type IncidentKind } from './incidents.js';

/**
 * Scores a drift detector against a history's ground truth.
 *
 * An alert catches an incident when, on one of the incident's days, its scope agrees with the
 * incident's group (equal, containing it, or inside it: a latency regression on a model shows in
 * each of the model's groups) and its rule is one that watches what the incident changes (matched
 * on the rule and metric names, below). An alert newly raised on a day (its id was not open the day
 * before) that no active incident explains is a false alert. An incident explains an alert when the
 * scopes agree and either the incident touches a named part of the fleet (then any rule may fire:
 * answers three times longer also cost more and take longer) or, for a fleet-wide incident, the
 * rule matches its kind. A feature appearing or disappearing is caught by any alert that names the
 * feature (the newFeature and featureGone rules do; a model-wide alert does not).
 */

/** Which rules watch which incident kind; none listed means any rule on the right scope will do. */
export const RULES_FOR_KIND: Readonly<Record<IncidentKind, RegExp | undefined>> = {
  // Not the prompt's tokens per request: longer prompts say nothing of longer answers.
  'completion-growth': /(?<!prompt[-_ ]?)tokens?[-_ ]?per[-_ ]?request|completion/i,
  'cost-per-token': /cost[-_ ]?per|per[-_ ]?1k|per[-_ ]?token/i,
  latency: /latency|ttft|first[-_ ]?token|sla/i,
  idle: /idle/i,
  'error-rate': /error/i,
  'prompt-shift': /prompt|distribution|psi|jensen|shift/i,
  'data-quality': /reject|quality|unmetered/i,
  'new-feature': undefined,
  'feature-gone': undefined,
};

export const ruleMatches = (alert: Alert, kind: IncidentKind): boolean =>
  RULES_FOR_KIND[kind]?.test(`${alert.rule} ${alert.metric}`) ?? true;

const catches = (alert: Alert, incident: Incident): boolean =>
  scopesAgree(alert.scope, incident.scope) &&
  ruleMatches(alert, incident.kind) &&
  // With no rule of its own, a feature's arrival or departure is caught only by an alert naming it:
  // a model-wide alert (its idle share rising as a feature leaves) says nothing about which one.
  (RULES_FOR_KIND[incident.kind] !== undefined || alert.scope.feature === incident.scope.feature);

const explains = (incident: Incident, alert: Alert): boolean =>
  scopesAgree(alert.scope, incident.scope) &&
  (Object.keys(incident.scope).length > 0 || ruleMatches(alert, incident.kind));

/** What the detector said on one day, and which alerts were open before it. */
export interface DayOutcome {
  readonly day: number;
  readonly report: DriftReport;
  readonly openBefore: ReadonlySet<string>;
}

export type Detect<R> = (input: {
  today: DailyMetrics;
  history: readonly DailyMetrics[];
  rules: R;
  open: ReadonlySet<string>;
}) => DriftReport;

/** Runs the detector day by day as the daily run would, carrying the open alerts over. */
export function runDetection<R extends { readonly baselineDays: number }>(
  days: readonly DailyMetrics[],
  detect: Detect<R>,
  rules: R,
): DayOutcome[] {
  let open: ReadonlySet<string> = new Set();
  return days.map((today, day) => {
    const history = days.slice(Math.max(0, day - rules.baselineDays), day);
    const report = detect({ today, history, rules, open });
    const outcome = { day, report, openBefore: open };
    open = new Set(report.alerts.map((a) => a.id));
    return outcome;
  });
}

export interface IncidentOutcome {
  readonly incident: Incident;
  /** `first-day`, `late` or `missed` for incidents that deserve an alert; `quiet` or `alerted` otherwise. */
  readonly status: 'first-day' | 'late' | 'missed' | 'quiet' | 'alerted';
  /** Days from the incident's start to its first catching alert. */
  readonly delay?: number;
}

export interface KindFigures {
  readonly incidents: number;
  readonly firstDay: number;
  readonly late: number;
  readonly missed: number;
}

export interface Score {
  readonly incidents: readonly IncidentOutcome[];
  readonly falseAlerts: readonly { readonly day: number; readonly alert: Alert }[];
  /** Alerts newly raised on an incident's scope by a rule other than the one that catches it. */
  readonly collateral: number;
  readonly scoredDays: number;
  readonly falsePerWeek: number;
  readonly byKind: Readonly<Record<IncidentKind, KindFigures>>;
}

/** Scores the days from `fromDay` on (the days before it build the first baseline). */
export function scoreDetection(
  incidents: readonly Incident[],
  outcomes: readonly DayOutcome[],
  fromDay: number,
): Score {
  const scored = outcomes.filter((o) => o.day >= fromDay);
  const raised = scored.flatMap((o) =>
    o.report.alerts.filter((a) => !o.openBefore.has(a.id)).map((alert) => ({ day: o.day, alert })),
  );
  const results = incidents.map((incident) => outcomeOf(incident, scored));
  const falseAlerts = raised.filter(
    ({ day, alert }) => !incidents.some((i) => isActive(i, day) && explains(i, alert)),
  );
  const collateral = raised.filter(({ day, alert }) =>
    incidents.some((i) => isActive(i, day) && explains(i, alert) && !catches(alert, i)),
  ).length;
  const byKind = Object.fromEntries(
    INCIDENT_KINDS.map((kind) => {
      const of = results.filter((r) => r.incident.kind === kind && r.incident.expectAlert);
      const count = (status: IncidentOutcome['status']) => of.filter((r) => r.status === status).length;
      return [
        kind,
        { incidents: of.length, firstDay: count('first-day'), late: count('late'), missed: count('missed') },
      ];
    }),
  ) as Record<IncidentKind, KindFigures>;
  return {
    incidents: results,
    falseAlerts,
    collateral,
    scoredDays: scored.length,
    falsePerWeek: scored.length === 0 ? 0 : (falseAlerts.length * 7) / scored.length,
    byKind,
  };
}

function outcomeOf(incident: Incident, scored: readonly DayOutcome[]): IncidentOutcome {
  const caught = scored.find(
    (o) => isActive(incident, o.day) && o.report.alerts.some((a) => catches(a, incident)),
  );
  if (!incident.expectAlert) return { incident, status: caught === undefined ? 'quiet' : 'alerted' };
  if (caught === undefined) return { incident, status: 'missed' };
  const delay = caught.day - incident.day;
  return { incident, status: delay === 0 ? 'first-day' : 'late', delay };
}
