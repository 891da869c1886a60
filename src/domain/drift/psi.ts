import type { Histogram } from '../metrics/metrics.js';

/**
 * Half a request added to every bin either side has seen: a bin empty on one side would otherwise
 * make the index infinite, and half a count is the usual (Jeffreys) prior that keeps small bins
 * from dominating.
 */
const SMOOTHING = 0.5;

/**
 * Population stability index of `today` against `baseline`, two histograms over the same bins:
 * sum over bins of (p - q) * ln(p / q). 0 for identical shapes; by custom under 0.1 is stable and
 * above 0.25 a real shift. Only bins that hold a count on either side take part, so the trailing
 * empty bins of the fixed edges add nothing. 0 when either side is empty.
 */
export function populationStabilityIndex(today: Histogram, baseline: Histogram): number {
  const length = Math.max(today.length, baseline.length);
  const used: number[] = [];
  for (let i = 0; i < length; i += 1) if ((today[i] ?? 0) > 0 || (baseline[i] ?? 0) > 0) used.push(i);
  const total = (h: Histogram): number => used.reduce((sum, i) => sum + (h[i] ?? 0), 0);
  const todayTotal = total(today);
  const baselineTotal = total(baseline);
  if (todayTotal <= 0 || baselineTotal <= 0) return 0;
  let index = 0;
  for (const i of used) {
    const p = ((today[i] ?? 0) + SMOOTHING) / (todayTotal + SMOOTHING * used.length);
    const q = ((baseline[i] ?? 0) + SMOOTHING) / (baselineTotal + SMOOTHING * used.length);
    index += (p - q) * Math.log(p / q);
  }
  return index;
}
