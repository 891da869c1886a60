/**
 * Drift detection (contracts.md §9): the day's metrics against a baseline of the days before it, under the
 * rules file. Pure: the caller reads the metrics files and the open alerts and writes the report.
 */
import type { DailyMetrics } from '../metrics/metrics.js';
import type { Alert, DriftReport } from './alert.js';
import { baselineWindow } from './baseline.js';
import { budgetEstimateAlerts } from './budget-rules.js';
import { makeContext } from './context.js';
import { dataQualityAlerts, idleShareAlerts } from './fleet-rules.js';
import { groupChangeAlerts } from './group-rules.js';
import { featureGoneAlerts, newFeatureAlerts } from './presence-rules.js';
import type { DriftRules } from './rules.js';
import { shiftAlerts, slaAlerts } from './sla-rules.js';
import { stepCostAlerts } from './step-cost-rules.js';

export interface DetectInput {
  readonly today: DailyMetrics;
  /** The previous days' metrics found, in any order; days outside the window are ignored. */
  readonly history: readonly DailyMetrics[];
  readonly rules: DriftRules;
  /** Ids of the alerts open before today: they stay open down to the clear level. */
  readonly open: ReadonlySet<string>;
}

/**
 * Every alert that holds today (critical first, then by id) and the open alerts that no longer
 * hold. `resolved` is every open id not raised today, including ids of rules since disabled or of
 * groups without traffic today: an alert that cannot be judged is not kept open.
 */
export function detectDrift(input: DetectInput): DriftReport {
  const window = baselineWindow(input.today, input.history, input.rules);
  const ctx = makeContext(input.today, window, input.rules, input.open);
  const raised = [
    ...groupChangeAlerts(ctx),
    ...slaAlerts(ctx),
    ...shiftAlerts(ctx),
    ...idleShareAlerts(ctx),
    ...dataQualityAlerts(ctx),
    ...newFeatureAlerts(ctx),
    ...featureGoneAlerts(ctx),
    ...stepCostAlerts(ctx),
    ...budgetEstimateAlerts(ctx),
  ];
  const alerts = raised.sort(bySeverityThenId);
  const ids = new Set(alerts.map((a) => a.id));
  return {
    date: input.today.date,
    baselineDays: window.found.length,
    alerts,
    resolved: [...input.open].filter((id) => !ids.has(id)).sort(),
  };
}

function bySeverityThenId(a: Alert, b: Alert): number {
  if (a.severity !== b.severity) return a.severity === 'critical' ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
