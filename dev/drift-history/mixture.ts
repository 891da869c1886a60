import { BIN_EDGES } from '../../src/domain/metrics/histogram.js';
import type { Histogram, HistogramName } from '../../src/domain/metrics/metrics.js';

/**
 * A value distribution as a mixture of log-normals: one component for ordinary traffic, a second
 * when an incident touches part of it (the requests served by one slow pod, say). The history
 * writes histograms from these exactly, with no per-request sampling: with thousands of requests a
 * day the sampling noise is far below the day-to-day variation the generator adds on purpose, and
 * skipping it keeps 90 days of a fleet under a second.
 */
export interface Component {
  readonly weight: number;
  readonly median: number;
  /** Standard deviation of the underlying normal. */
  readonly sigma: number;
}
export type Mixture = readonly Component[];

export const lognormal = (median: number, sigma: number): Mixture => [{ weight: 1, median, sigma }];

/** Multiplies the values of a fraction of the mixture (every component alike) by `factor`. */
export function scalePart(mixture: Mixture, fraction: number, factor: number): Mixture {
  if (fraction <= 0 || factor === 1) return mixture;
  const kept = mixture.map((c) => ({ ...c, weight: c.weight * (1 - fraction) }));
  const moved = mixture.map((c) => ({ ...c, weight: c.weight * fraction, median: c.median * factor }));
  return [...kept, ...moved].filter((c) => c.weight > 0);
}

export function mixtureMean(mixture: Mixture): number {
  let mean = 0;
  for (const c of mixture) mean += c.weight * c.median * Math.exp((c.sigma * c.sigma) / 2);
  return mean;
}

/** Counts per bin for `count` values of the mixture, integers that add up to `count` exactly. */
export function mixtureHistogram(name: HistogramName, mixture: Mixture, count: number): Histogram {
  const edges = BIN_EDGES[name];
  const cdf = (x: number): number =>
    x <= 0 ? 0 : mixture.reduce((p, c) => p + c.weight * normalCdf(Math.log(x / c.median) / c.sigma), 0);
  const expected = edges.map((edge, i) => {
    const next = edges[i + 1];
    return count * ((next === undefined ? 1 : cdf(next)) - cdf(edge));
  });
  return trim(largestRemainder(expected, count));
}

/** Rounds down, then hands the units still missing to the largest remainders, so the sum is `total`. */
function largestRemainder(expected: readonly number[], total: number): number[] {
  const counts = expected.map((e) => Math.floor(Math.max(0, e)));
  let missing = total - counts.reduce((a, b) => a + b, 0);
  const order = expected.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0]);
  for (let k = 0; missing > 0 && order.length > 0; k = (k + 1) % order.length, missing -= 1) {
    const i = order[k]?.[1] ?? 0;
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

function trim(counts: number[]): number[] {
  let end = counts.length;
  while (end > 0 && counts[end - 1] === 0) end -= 1;
  return counts.slice(0, end);
}

/** Standard normal CDF through erf (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
