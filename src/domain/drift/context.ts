/**
 * What every rule reads: today, the baseline window, the rules, the alerts open before today, and
 * the groups of each day indexed by their key, built once per detection.
 */
import type { DailyMetrics, GroupMetrics } from '../metrics/metrics.js';
import type { AlertScope } from './alert.js';
import { median, type BaselineWindow } from './baseline.js';
import type { DriftRules, Volume } from './rules.js';

export interface DetectContext {
  readonly today: DailyMetrics;
  readonly window: BaselineWindow;
  readonly rules: DriftRules;
  readonly open: ReadonlySet<string>;
  /** Groups of each day of the window (every day found, not only the baseline's) by groupKey. */
  readonly groupsByDate: ReadonlyMap<string, ReadonlyMap<string, GroupMetrics>>;
}

export function groupKey(g: Pick<GroupMetrics, 'tenant' | 'feature' | 'model' | 'requestClass'>): string {
  return JSON.stringify([g.tenant, g.feature, g.model, g.requestClass]);
}

export function groupScopeParts(g: GroupMetrics): readonly string[] {
  return [g.tenant, g.feature, g.model, g.requestClass];
}

export function groupScope(g: GroupMetrics): AlertScope {
  return { tenant: g.tenant, feature: g.feature, model: g.model, requestClass: g.requestClass };
}

/** "acme / chat on llama-3-8b (interactive)", for messages. */
export function groupLabel(g: GroupMetrics): string {
  return `${g.tenant} / ${g.feature} on ${g.model} (${g.requestClass})`;
}

export function makeContext(
  today: DailyMetrics,
  window: BaselineWindow,
  rules: DriftRules,
  open: ReadonlySet<string>,
): DetectContext {
  const groupsByDate = new Map<string, Map<string, GroupMetrics>>();
  for (const day of window.found) {
    const groups = new Map<string, GroupMetrics>();
    // A key listed twice keeps its first entry, as today's groups do: ids must stay unique.
    for (const g of day.groups) if (!groups.has(groupKey(g))) groups.set(groupKey(g), g);
    groupsByDate.set(day.date, groups);
  }
  return { today, window, rules, open, groupsByDate };
}

/**
 * The group's entry on each baseline day (or, with `found`, on every day of the window), undefined
 * where it had no traffic.
 */
export function groupHistory(
  ctx: DetectContext,
  key: string,
  days: 'baseline' | 'found' = 'baseline',
): readonly (GroupMetrics | undefined)[] {
  const window = days === 'found' ? ctx.window.found : ctx.window.days;
  return window.map((day) => ctx.groupsByDate.get(day.date)?.get(key));
}

/** A finite figure or nothing: a ratio over zero is no figure at all, never NaN or Infinity. */
export function finite(value: number): number | undefined {
  return Number.isFinite(value) ? value : undefined;
}

export function ratio(numerator: number, denominator: number): number | undefined {
  return denominator > 0 ? finite(numerator / denominator) : undefined;
}

/** Both figures of the volume reached by this group today. */
export function meetsVolume(g: Pick<GroupMetrics, 'requests' | 'costUsd'>, min: Volume): boolean {
  return g.requests >= min.requests && g.costUsd >= min.costUsd;
}

/** Both figures reached on a typical baseline day: the medians, a day without traffic counting 0. */
export function baselineMeetsVolume(history: readonly (GroupMetrics | undefined)[], min: Volume): boolean {
  const requests = median(history.map((g) => g?.requests ?? 0)) ?? 0;
  const costUsd = median(history.map((g) => g?.costUsd ?? 0)) ?? 0;
  return requests >= min.requests && costUsd >= min.costUsd;
}
