/**
 * The change rules of a (tenant, feature, model, requestClass) group: today's figure against the
 * median of the same figure on the baseline days.
 */
import { quantile } from '../metrics/histogram.js';
import type { DailyMetrics, GroupMetrics } from '../metrics/metrics.js';
import { alertId } from './alert-id.js';
import type { DriftAlert, DriftMetric } from './labels.js';
import { median, overDays } from './baseline.js';
import { judgeChange, levelText } from './change.js';
import {
  baselineMeetsVolume,
  finite,
  groupHistory,
  groupKey,
  groupLabel,
  groupScope,
  groupScopeParts,
  meetsVolume,
  ratio,
  type DetectContext,
} from './context.js';
import { formatChange, formatMs, formatNumber, formatShare, formatUsd } from './format.js';
import type { GroupChangeRuleName } from './rules.js';

type Bins = DailyMetrics['bins'];

interface GroupMeasure {
  readonly rule: GroupChangeRuleName;
  readonly metric: DriftMetric;
  readonly title: string;
  value(g: GroupMetrics, bins: Bins): number | undefined;
  /** The figure on a baseline day the group had no traffic: 0 for money, none for ratios. */
  readonly absent?: number;
  /** Into the unit of the absolute threshold (see ChangeInput.scale). */
  scale(g: GroupMetrics): number;
  format(value: number): string;
}

const tokensOf = (g: GroupMetrics): number => g.promptTokens + g.completionTokens;
const tokens = (value: number): string => `${formatNumber(value)} tokens`;
const one = (): number => 1;

export const GROUP_MEASURES: readonly GroupMeasure[] = [
  {
    rule: 'costPer1kTokens',
    metric: 'costPer1kTokensUsd',
    title: 'Cost per 1k tokens',
    value: (g) => ratio(g.costUsd * 1000, tokensOf(g)),
    // The absolute threshold is money: the extra spend today's tokens cost at the new rate.
    scale: (g) => tokensOf(g) / 1000,
    format: formatUsd,
  },
  {
    rule: 'dailyCost',
    metric: 'costUsd',
    title: 'Daily cost',
    value: (g) => finite(g.costUsd),
    absent: 0,
    scale: one,
    format: formatUsd,
  },
  {
    rule: 'promptTokensPerRequest',
    metric: 'promptTokensPerRequest',
    title: 'Prompt tokens per request',
    value: (g) => ratio(g.promptTokens, g.requests),
    scale: one,
    format: tokens,
  },
  {
    rule: 'completionTokensPerRequest',
    metric: 'completionTokensPerRequest',
    title: 'Completion tokens per request',
    value: (g) => ratio(g.completionTokens, g.requests),
    scale: one,
    format: tokens,
  },
  {
    rule: 'errorRate',
    metric: 'errorRate',
    title: 'Error rate',
    value: (g) => ratio(g.errorRequests, g.requests),
    // The absolute threshold counts requests: the extra failures today's requests had at the new rate.
    scale: (g) => g.requests,
    format: formatShare,
  },
  {
    rule: 'p95LatencyRegression',
    metric: 'p95LatencyMs',
    title: 'p95 latency',
    value: (g, bins) => quantile(bins.latencyMs, g.histograms.latencyMs, 0.95),
    scale: one,
    format: formatMs,
  },
  {
    rule: 'p95TtftRegression',
    metric: 'p95TtftMs',
    title: 'p95 time to first token',
    value: (g, bins) => quantile(bins.ttftMs, g.histograms.ttftMs, 0.95),
    scale: one,
    format: formatMs,
  },
];

/** Today's groups, each key once (the first entry wins), so ids stay unique. */
export function uniqueGroups(groups: readonly GroupMetrics[]): readonly GroupMetrics[] {
  const seen = new Set<string>();
  return groups.filter((g) => {
    const key = groupKey(g);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function groupChangeAlerts(ctx: DetectContext): DriftAlert[] {
  const alerts: DriftAlert[] = [];
  for (const g of uniqueGroups(ctx.today.groups)) {
    const history = groupHistory(ctx, groupKey(g));
    const wholeWindow = groupHistory(ctx, groupKey(g), 'found');
    for (const measure of GROUP_MEASURES) {
      const alert = judgeGroup(ctx, g, history, wholeWindow, measure);
      if (alert !== undefined) alerts.push(alert);
    }
  }
  return alerts;
}

function judgeGroup(
  ctx: DetectContext,
  g: GroupMetrics,
  history: readonly (GroupMetrics | undefined)[],
  wholeWindow: readonly (GroupMetrics | undefined)[],
  measure: GroupMeasure,
): DriftAlert | undefined {
  const rule = ctx.rules.rules[measure.rule];
  if (
    !rule.enabled ||
    !meetsVolume(g, rule.minToday) ||
    !baselineMeetsVolume(wholeWindow, rule.minBaseline)
  ) {
    return undefined;
  }
  const value = measure.value(g, ctx.today.bins);
  const daily = history.flatMap((h, i) => {
    const day = ctx.window.days[i];
    const figure = h === undefined || day === undefined ? measure.absent : measure.value(h, day.bins);
    return figure === undefined ? [] : [figure];
  });
  const baseline = median(daily);
  if (value === undefined || baseline === undefined || daily.length < ctx.rules.minBaselineDays)
    return undefined;
  const id = alertId(measure.rule, groupScopeParts(g));
  const verdict = judgeChange({ value, baseline, scale: measure.scale(g), open: ctx.open.has(id) }, rule);
  if (verdict === undefined) return undefined;
  const moved = verdict.direction === 'up' ? 'rose' : 'fell';
  const by = baseline === 0 ? '' : ` ${formatChange(value, baseline)}`;
  return {
    id,
    rule: measure.rule,
    severity: verdict.severity,
    scope: groupScope(g),
    metric: measure.metric,
    value,
    baseline,
    threshold: verdict.threshold,
    message:
      `${measure.title} of ${groupLabel(g)} ${moved}${by} to ${measure.format(value)} from a median of ` +
      `${measure.format(baseline)} ${overDays(daily.length, ctx.window)} ` +
      `(${levelText(verdict, measure.format(verdict.threshold))}).`,
  };
}
