/**
 * Rules over the fleet rather than a group: the idle share of each model's GPUs, and the data
 * quality of the day's events (rejected and unmetered, against the events read).
 */
import type { CapacityMetrics, DailyMetrics } from '../metrics/metrics.js';
import { alertId } from './alert-id.js';
import type { DriftAlert } from './labels.js';
import { median, overDays } from './baseline.js';
import { judgeChange, levelText } from './change.js';
import { ratio, type DetectContext } from './context.js';
import { formatChange, formatNumber, formatShare } from './format.js';

/** Pods named as the contributors of an idle-share alert. */
const TOP_CONTRIBUTORS = 5;

function modelsOf(day: DailyMetrics): ReadonlyMap<string, CapacityMetrics> {
  const models = new Map<string, CapacityMetrics>();
  for (const m of day.models) if (!models.has(m.model)) models.set(m.model, m);
  return models;
}

function requestsOf(day: DailyMetrics, model: string): number {
  return day.groups.reduce((sum, g) => (g.model === model ? sum + g.requests : sum), 0);
}

/** A model's idle GPU-seconds over its fleet GPU-seconds; the pods with most idle time as contributors. */
export function idleShareAlerts(ctx: DetectContext): DriftAlert[] {
  const rule = ctx.rules.rules.idleShare;
  if (!rule.enabled) return [];
  const alerts: DriftAlert[] = [];
  const history = ctx.window.days.map(modelsOf);
  for (const m of modelsOf(ctx.today).values()) {
    const volume = { requests: requestsOf(ctx.today, m.model), costUsd: m.fleetCostUsd };
    if (volume.requests < rule.minToday.requests || volume.costUsd < rule.minToday.costUsd) continue;
    const past = history.map((models) => models.get(m.model));
    const typicalCost = median(past.map((p) => p?.fleetCostUsd ?? 0)) ?? 0;
    const typicalRequests = median(ctx.window.days.map((day) => requestsOf(day, m.model))) ?? 0;
    if (typicalCost < rule.minBaseline.costUsd || typicalRequests < rule.minBaseline.requests) continue;
    const daily = past.flatMap((p) => {
      const share = p && ratio(p.idleGpuSeconds, p.fleetGpuSeconds);
      return share === undefined ? [] : [share];
    });
    const value = ratio(m.idleGpuSeconds, m.fleetGpuSeconds);
    const baseline = median(daily);
    if (value === undefined || baseline === undefined || daily.length < ctx.rules.minBaselineDays) continue;
    const id = alertId('idleShare', [m.model]);
    const verdict = judgeChange({ value, baseline, scale: 1, open: ctx.open.has(id) }, rule);
    if (verdict === undefined) continue;
    const contributors = ctx.today.pods
      .filter((p) => p.model === m.model && p.pod !== undefined && p.idleGpuSeconds > 0)
      .sort((a, b) => b.idleGpuSeconds - a.idleGpuSeconds)
      .slice(0, TOP_CONTRIBUTORS)
      .map((p) => ({ name: p.pod ?? '', value: p.idleGpuSeconds }));
    const moved = verdict.direction === 'up' ? 'rose' : 'fell';
    const by = baseline === 0 ? '' : ` ${formatChange(value, baseline)}`;
    const most =
      contributors.length === 0 ? '' : `; most idle: ${contributors.map((c) => c.name).join(', ')}`;
    alerts.push({
      id,
      rule: 'idleShare',
      severity: verdict.severity,
      scope: { model: m.model },
      metric: 'idleShare',
      value,
      baseline,
      threshold: verdict.threshold,
      message:
        `Idle share of ${m.model} ${moved}${by} to ${formatShare(value)} of ` +
        `${formatNumber(m.fleetGpuSeconds / 3600)} GPU-hours from a median of ${formatShare(baseline)} ` +
        `${overDays(daily.length, ctx.window)} (${levelText(verdict, formatShare(verdict.threshold))})${most}.`,
      contributors,
    });
  }
  return alerts;
}

const DATA_QUALITY = [
  { rule: 'rejectedShare', metric: 'rejectedShare', field: 'rejected', title: 'Rejected events' },
  {
    rule: 'unmeteredShare',
    metric: 'unmeteredShare',
    field: 'unmeteredRequests',
    title: 'Unmetered requests',
  },
] as const;

/**
 * Shares of the events read. The metrics do not break rejections down by group (a rejected event
 * may not name one), so these alerts name no contributors.
 */
export function dataQualityAlerts(ctx: DetectContext): DriftAlert[] {
  const alerts: DriftAlert[] = [];
  const { fleet } = ctx.today;
  for (const measure of DATA_QUALITY) {
    const rule = ctx.rules.rules[measure.rule];
    if (!rule.enabled || fleet.eventsRead < rule.minEvents) continue;
    const typicalEvents = median(ctx.window.days.map((day) => day.fleet.eventsRead)) ?? 0;
    if (typicalEvents < rule.minEvents) continue;
    const daily = ctx.window.days.flatMap((day) => {
      const share = ratio(day.fleet[measure.field], day.fleet.eventsRead);
      return share === undefined ? [] : [share];
    });
    const value = ratio(fleet[measure.field], fleet.eventsRead);
    const baseline = median(daily);
    if (value === undefined || baseline === undefined || daily.length < ctx.rules.minBaselineDays) continue;
    const id = alertId(measure.rule, []);
    const verdict = judgeChange(
      { value, baseline, scale: 1, open: ctx.open.has(id) },
      { ...rule, direction: 'up' },
    );
    if (verdict === undefined) continue;
    alerts.push({
      id,
      rule: measure.rule,
      severity: verdict.severity,
      scope: {},
      metric: measure.metric,
      value,
      baseline,
      threshold: verdict.threshold,
      message:
        `${measure.title} rose to ${formatShare(value)} of ${formatNumber(fleet.eventsRead)} events read ` +
        `from a median of ${formatShare(baseline)} ${overDays(daily.length, ctx.window)} ` +
        `(${levelText(verdict, formatShare(verdict.threshold))}).`,
    });
  }
  return alerts;
}
