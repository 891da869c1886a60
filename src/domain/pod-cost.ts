import { PermanentError } from './errors.js';
import type { Interval } from './intervals.js';
import { exactCost, nanosPerGpuMicro, type Nanos, type PriceCard, type PricePeriod } from './prices.js';
import { formatTimestamp, type Micros } from './timestamp.js';

// A pod's held GPU-time, priced: cut where the price changes, and totalled exactly (contracts.md §3, §4.1).
// The allocation shares out what this totals.

/** The pod as pricing sees it: who, on which VM size, with how many GPUs. */
export interface HeldPod {
  readonly pod: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
}

/** A stretch of the day during which the pod held its GPUs at one price. */
export interface RateSegment extends Interval {
  readonly nanosPerMicro: number;
  readonly gpus: number;
}

/** The held intervals cut into segments of one price each; unpriced held time is an error. */
export function rateSegments(timeline: HeldPod, held: readonly Interval[], prices: PriceCard): RateSegment[] {
  const periods = prices.periods(timeline.gpuSku);
  const segments: RateSegment[] = [];
  for (const interval of held) {
    let cursor = interval.start;
    for (const period of periods ?? []) {
      const start = Math.max(cursor, period.from);
      const end = Math.min(interval.end, period.to);
      if (end <= start) continue;
      if (start > cursor) break;
      segments.push({
        start,
        end,
        nanosPerMicro: timeline.gpuCount * nanosPerGpuMicro(period),
        gpus: timeline.gpuCount,
      });
      cursor = end;
    }
    if (cursor < interval.end) {
      // contracts.md §3: a SKU with no price is an error that names the SKU, never a zero. One rule for the
      // CLI and the daily run alike: GPU-time the card cannot price fails the day's report (exit 1),
      // since leaving it out would understate the fleet cost without anyone noticing.
      const why = periods === undefined ? 'is not on the price card' : 'has no price in force';
      const unpriced = `${formatTimestamp(cursor)} to ${formatTimestamp(unpricedUntil(periods, cursor, interval.end))}`;
      throw new PermanentError(
        `gpuSku "${timeline.gpuSku}" ${why}: pod ${timeline.pod} held GPUs from ${unpriced} with no price`,
      );
    }
  }
  return segments;
}

/** The end of the unpriced stretch that starts at `from`: the next price's start, or `end`. */
function unpricedUntil(periods: readonly PricePeriod[] | undefined, from: Micros, end: Micros): Micros {
  const next = periods?.find((period) => period.from > from);
  return next === undefined ? end : Math.min(next.from, end);
}

/**
 * The pod's GPU-time and its cost, exact. GPU-microseconds are integers, so they are summed per
 * price period first (exact in a double below 2^53), and only the few per-period fractions are
 * added in BigInt and rounded once: one fraction per segment would multiply the denominators
 * together, and the cost would grow quadratically with the number of windows.
 */
export function exactTotals(
  segments: readonly RateSegment[],
  timeline: HeldPod,
  prices: PriceCard,
): { nanos: Nanos; gpuMicros: number } {
  const microsByPeriod = new Map<PricePeriod, number>();
  let gpuMicros = 0;
  for (const segment of segments) {
    const period = prices.at(timeline.gpuSku, segment.start);
    if (period === undefined) continue;
    const micros = (segment.end - segment.start) * segment.gpus;
    gpuMicros += micros;
    microsByPeriod.set(period, (microsByPeriod.get(period) ?? 0) + micros);
  }
  if (!Number.isSafeInteger(gpuMicros)) throw new PermanentError(`GPU-time of pod ${timeline.pod} overflows`);
  let numerator = 0n;
  let denominator = 1n;
  for (const [period, micros] of microsByPeriod) {
    const cost = exactCost(period, micros);
    numerator = numerator * cost.denominator + cost.numerator * denominator;
    denominator *= cost.denominator;
  }
  const nanos = Number((2n * numerator + denominator) / (2n * denominator));
  if (!Number.isSafeInteger(nanos)) throw new PermanentError(`cost of pod ${timeline.pod} overflows`);
  return { nanos, gpuMicros };
}
