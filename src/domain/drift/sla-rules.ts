/**
 * The rules that judge a group's distributions rather than one figure: p95 latency and time to
 * first token against the request class's SLA, and the shift of the prompt-length histogram.
 */
import { addHistograms, histogramTotal, quantile, quantileBin } from '../metrics/histogram.js';
import type { GroupMetrics, Histogram } from '../metrics/metrics.js';
import { alertId } from './alert-id.js';
import type { DriftAlert } from './labels.js';
import { median, overDays } from './baseline.js';
import { judgeLevel, levelText } from './change.js';
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
import { formatMs, formatNumber } from './format.js';
import { uniqueGroups } from './group-rules.js';
import { populationStabilityIndex } from './psi.js';

const SLA_MEASURES = [
  { rule: 'p95LatencySla', histogram: 'latencyMs', sla: 'p95LatencyMs', title: 'p95 latency' },
  { rule: 'p95TtftSla', histogram: 'ttftMs', sla: 'p95TtftMs', title: 'p95 time to first token' },
] as const;

/**
 * Today's p95 against the SLA, needing no history. The p95 taken is the lower edge of the bin
 * that holds it (the true p95 is at least that), so binning never raises a breach that did not
 * happen; a breach of less than one bin (about 19%) above the SLA may go unseen.
 */
export function slaAlerts(ctx: DetectContext): DriftAlert[] {
  const alerts: DriftAlert[] = [];
  for (const g of uniqueGroups(ctx.today.groups)) {
    const sla = ctx.rules.slas[g.requestClass] ?? ctx.rules.slas['*'];
    if (sla === undefined) continue;
    const history = groupHistory(ctx, groupKey(g));
    for (const measure of SLA_MEASURES) {
      const rule = ctx.rules.rules[measure.rule];
      if (!rule.enabled || !meetsVolume(g, rule.minToday)) continue;
      const bins = ctx.today.bins[measure.histogram];
      const value = quantileBin(bins, g.histograms[measure.histogram], 0.95)?.lower;
      const target = sla[measure.sla];
      if (value === undefined) continue;
      const id = alertId(measure.rule, groupScopeParts(g));
      const levels = { warning: rule.warning.ratio, critical: rule.critical.ratio, clear: rule.clear.ratio };
      const verdict = judgeLevel(value / target, levels, ctx.open.has(id));
      if (verdict === undefined) continue;
      const recent = history.flatMap((h, i) => {
        const day = ctx.window.days[i];
        const p95 =
          h && day && quantileBin(day.bins[measure.histogram], h.histograms[measure.histogram], 0.95);
        return p95 ? [p95.lower] : [];
      });
      const before = median(recent);
      alerts.push({
        id,
        rule: measure.rule,
        severity: verdict.severity,
        scope: groupScope(g),
        metric: measure.sla,
        value,
        baseline: target,
        threshold: target * verdict.level,
        message:
          `${measure.title} of ${groupLabel(g)} is at least ${formatMs(value)}, ` +
          `${formatNumber(value / target)}x the ${g.requestClass} SLA of ${formatMs(target)}` +
          (verdict.held ? `, ${levelText(verdict, formatMs(target * verdict.level))} ` : ' ') +
          (before === undefined
            ? '(no baseline yet).'
            : `(median ${formatMs(before)} ${overDays(recent.length, ctx.window)}).`),
      });
    }
  }
  return alerts;
}

/**
 * The baseline days whose prompts were the usual ones. A sum, unlike a median, takes an incident
 * day in with its full weight: one day of tripled prompts among four Tuesdays would make every
 * ordinary Tuesday after it look shifted. So the day most shifted from the sum of the others is
 * left out while its index reaches the warning level, one day at a time (a shifted day also makes
 * the others look shifted from a sum that holds it), as long as most days remain.
 */
function usualDays(days: readonly Histogram[], warning: number): readonly Histogram[] {
  let usual = [...days];
  while ((usual.length - 1) * 2 > days.length) {
    const shifts = usual.map((day, i) =>
      populationStabilityIndex(day, addHistograms(usual.filter((_, j) => j !== i))),
    );
    const worst = shifts.indexOf(Math.max(...shifts));
    if (!((shifts[worst] ?? 0) >= warning)) break;
    usual = usual.filter((_, i) => i !== worst);
  }
  return usual;
}

const leftOut = (days: number): string => `${days} shifted day${days === 1 ? '' : 's'} left out`;

/**
 * The prompt-length histogram against the sum of the baseline days' histograms: summing weighs
 * each day by its requests, which is what "the usual mix of prompts" means (shifted days left
 * out); the population stability index then needs enough requests on both sides to be more than
 * sampling noise.
 */
export function shiftAlerts(ctx: DetectContext): DriftAlert[] {
  const rule = ctx.rules.rules.promptLengthShift;
  if (!rule.enabled) return [];
  const alerts: DriftAlert[] = [];
  const bins = ctx.today.bins.promptTokens;
  for (const g of uniqueGroups(ctx.today.groups)) {
    const history = groupHistory(ctx, groupKey(g));
    const present = history.filter((h): h is GroupMetrics => h !== undefined);
    const wholeWindow = groupHistory(ctx, groupKey(g), 'found');
    if (!meetsVolume(g, rule.minToday) || !baselineMeetsVolume(wholeWindow, rule.minBaseline)) continue;
    if (present.length < ctx.rules.minBaselineDays) continue;
    const today = g.histograms.promptTokens;
    const usual = usualDays(
      present.map((h) => h.histograms.promptTokens),
      rule.warning.psi,
    );
    const baseline = addHistograms(usual);
    if (histogramTotal(today) < rule.minSamples || histogramTotal(baseline) < rule.minSamples) continue;
    const psi = populationStabilityIndex(today, baseline);
    const id = alertId('promptLengthShift', groupScopeParts(g));
    const levels = { warning: rule.warning.psi, critical: rule.critical.psi, clear: rule.clear.psi };
    const verdict = judgeLevel(psi, levels, ctx.open.has(id));
    if (verdict === undefined) continue;
    const medianToday = quantile(bins, today, 0.5) ?? 0;
    const medianBefore = quantile(bins, baseline, 0.5) ?? 0;
    alerts.push({
      id,
      rule: 'promptLengthShift',
      severity: verdict.severity,
      scope: groupScope(g),
      metric: 'promptTokensPsi',
      value: psi,
      // The index measures the distance from the baseline's shape, which is 0 by definition.
      baseline: 0,
      threshold: verdict.level,
      message:
        `Prompt lengths of ${groupLabel(g)} shifted (PSI ${formatNumber(psi)}, ${levelText(verdict, formatNumber(verdict.level))}): median under ${formatNumber(medianToday)} tokens against a median under ` +
        `${formatNumber(medianBefore)} tokens ${overDays(usual.length, ctx.window)}` +
        (usual.length < present.length ? ` (${leftOut(present.length - usual.length)})` : '') +
        '.',
    });
  }
  return alerts;
}
