/**
 * A group's arrival and departure. The change rules judge a group against its own past, so they
 * say nothing of a feature that starts spending with no past, or of one that stops sending traffic
 * (it has no figures today). These two rules do, scoped to the group.
 */
import type { GroupMetrics } from '../metrics/metrics.js';
import { alertId } from './alert-id.js';
import type { DriftAlert } from './labels.js';
import { median, overDays } from './baseline.js';
import {
  baselineMeetsVolume,
  groupHistory,
  groupKey,
  groupLabel,
  groupScope,
  groupScopeParts,
  meetsVolume,
  type DetectContext,
} from './context.js';
import { formatNumber, formatUsd } from './format.js';
import { uniqueGroups } from './group-rules.js';

const hasTraffic = (g: GroupMetrics | undefined): g is GroupMetrics => g !== undefined && g.requests > 0;

/**
 * A group with traffic today and none on any day of the window (whatever the weekday), once it
 * reaches the rule's volume today. It needs `minBaselineDays` days of history: with less, every
 * group would look new. An open alert stays open while the group has traffic on fewer than
 * `minBaselineDays` days of the window, the days the change rules need before they can judge it.
 */
export function newFeatureAlerts(ctx: DetectContext): DriftAlert[] {
  const rule = ctx.rules.rules.newFeature;
  if (!rule.enabled || ctx.window.found.length < ctx.rules.minBaselineDays) return [];
  const alerts: DriftAlert[] = [];
  for (const g of uniqueGroups(ctx.today.groups)) {
    if (!hasTraffic(g) || !meetsVolume(g, rule.minVolume)) continue;
    const id = alertId('newFeature', groupScopeParts(g));
    const daysSeen = groupHistory(ctx, groupKey(g), 'found').filter(hasTraffic).length;
    const held = daysSeen > 0;
    if (held && (!ctx.open.has(id) || daysSeen >= ctx.rules.minBaselineDays)) continue;
    const since = held ? ` (first seen ${daysSeen} day${daysSeen === 1 ? '' : 's'} before)` : '';
    alerts.push({
      id,
      rule: 'newFeature',
      severity: 'warning',
      scope: groupScope(g),
      metric: 'costUsd',
      value: g.costUsd,
      baseline: 0,
      threshold: rule.minVolume.costUsd,
      message:
        `New feature: ${groupLabel(g)} spent ${formatUsd(g.costUsd)} on ${formatNumber(g.requests)} ` +
        `requests${since}, with no traffic on the ${ctx.window.found.length} days before it ` +
        `(reported from ${formatUsd(rule.minVolume.costUsd)} and ${formatNumber(rule.minVolume.requests)} requests a day).`,
    });
  }
  return alerts;
}

/**
 * A group without traffic today (absent, or no requests) that reached the rule's volume on a
 * typical baseline day: the median over the days of today's weekday when the baseline uses them,
 * so a feature that never runs at the weekend is not gone on Saturday. It stays open while the
 * baseline still says so, and resolves when the group sends traffic again. A day on which no group
 * has traffic raises nothing: that is a gap in the metering, not every feature leaving at once.
 */
export function featureGoneAlerts(ctx: DetectContext): DriftAlert[] {
  const rule = ctx.rules.rules.featureGone;
  if (!rule.enabled || ctx.window.days.length < ctx.rules.minBaselineDays) return [];
  const today = new Set(ctx.today.groups.filter(hasTraffic).map(groupKey));
  if (today.size === 0) return [];
  const seen = new Map<string, GroupMetrics>();
  for (const day of ctx.window.days) {
    for (const g of ctx.groupsByDate.get(day.date)?.values() ?? []) seen.set(groupKey(g), g);
  }
  const alerts: DriftAlert[] = [];
  for (const [key, g] of [...seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (today.has(key)) continue;
    const history = groupHistory(ctx, key);
    if (!baselineMeetsVolume(history, rule.minVolume)) continue;
    const requests = median(history.map((h) => h?.requests ?? 0)) ?? 0;
    const costUsd = median(history.map((h) => h?.costUsd ?? 0)) ?? 0;
    alerts.push({
      id: alertId('featureGone', groupScopeParts(g)),
      rule: 'featureGone',
      severity: 'warning',
      scope: groupScope(g),
      metric: 'requests',
      value: 0,
      baseline: requests,
      threshold: 0,
      message:
        `Feature gone: ${groupLabel(g)} sent no requests, against a median of ` +
        `${formatNumber(requests)} requests and ${formatUsd(costUsd)} ${overDays(history.length, ctx.window)}.`,
    });
  }
  return alerts;
}
