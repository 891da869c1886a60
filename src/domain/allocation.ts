import { apportion } from './apportion.js';
import { PermanentError } from './errors.js';
import { clip, meets, union, type Interval } from './intervals.js';
import { exactCost, nanosPerGpuMicro, type Nanos, type PriceCard, type PricePeriod } from './prices.js';
import type { UsageRecord } from './records.js';
import { formatTimestamp, type Micros } from './timestamp.js';
import { phaseRates, type Weighting } from './weighting.js';

/** One serving replica: a pod name on one VM size with one GPU count (a pod moved elsewhere is another). */
export interface PodTimeline {
  readonly pod: string;
  readonly model: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly windows: readonly Interval[];
  /** The pod's requests in canonical order (see canonicalOrder). */
  readonly requests: readonly UsageRecord[];
}

export interface RequestShare {
  readonly request: UsageRecord;
  readonly nanos: Nanos;
  readonly gpuMicros: number;
  /** False when no capacity window of its pod covers any of its active time (SPEC 4.5). */
  readonly metered: boolean;
}

export interface PodAllocation {
  readonly pod: string;
  readonly model: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly fleetNanos: Nanos;
  readonly fleetGpuMicros: number;
  readonly idleNanos: Nanos;
  readonly idleGpuMicros: number;
  readonly shares: readonly RequestShare[];
}

/** A stretch of the day during which the pod held its GPUs at one price. */
interface RateSegment extends Interval {
  readonly nanosPerMicro: number;
  readonly gpus: number;
}

/**
 * Divides one pod's GPU-time within the day [dayStart, dayEnd) among its requests (SPEC 4.1-4.3):
 * a sweep over the pod's timeline in which every stretch of held time between two events goes to
 * the requests active in it, weighted by `weighting`, or to idle when none is. The pod's cost is
 * computed exactly and apportioned so that requests + idle add up to it to the nano-dollar.
 */
export function allocatePod(
  timeline: PodTimeline,
  dayStart: Micros,
  dayEnd: Micros,
  prices: PriceCard,
  weighting: Weighting,
): PodAllocation {
  const held = union(timeline.windows);
  const segments = rateSegments(timeline, clip(held, dayStart, dayEnd), prices);
  const fleet = exactTotals(segments, timeline, prices);
  const sweep = sweepPod(timeline.requests, segments, dayStart, dayEnd, weighting);

  const n = timeline.requests.length;
  sweep.costs[n] = sweep.idleCost;
  sweep.times[n] = sweep.idleTime;
  const nanos = apportion(fleet.nanos, sweep.costs);
  const gpuMicros = apportion(fleet.gpuMicros, sweep.times);
  const shares = timeline.requests.map((request, i) => ({
    request,
    nanos: nanos[i] ?? 0,
    gpuMicros: gpuMicros[i] ?? 0,
    metered: meets(held, activeStart(request), request.finishedAt),
  }));
  return {
    pod: timeline.pod,
    model: timeline.model,
    gpuSku: timeline.gpuSku,
    gpuCount: timeline.gpuCount,
    fleetNanos: fleet.nanos,
    fleetGpuMicros: fleet.gpuMicros,
    idleNanos: nanos[n] ?? 0,
    idleGpuMicros: gpuMicros[n] ?? 0,
    shares,
  };
}

/** The end of the request's queue wait (SPEC 4.2): startedAt + queueMs, never past its first token. */
export function activeStart(request: UsageRecord): Micros {
  const prefillEnd = request.firstTokenAt ?? request.finishedAt;
  return Math.min(request.startedAt + Math.round(request.queueMs * 1000), prefillEnd);
}

/** The canonical order of requests: by active start, finish, then eventId (unique). */
export function canonicalOrder(a: UsageRecord, b: UsageRecord): number {
  return (
    activeStart(a) - activeStart(b) ||
    a.finishedAt - b.finishedAt ||
    (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)
  );
}

function rateSegments(timeline: PodTimeline, held: readonly Interval[], prices: PriceCard): RateSegment[] {
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
      // SPEC 3: a SKU with no price is an error that names the SKU, never a zero. One rule for the
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
function exactTotals(
  segments: readonly RateSegment[],
  timeline: PodTimeline,
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

interface SweepResult {
  costs: Float64Array;
  times: Float64Array;
  idleCost: number;
  idleTime: number;
}

const ENTER = 0;
const DECODE = 1;
const EXIT = 2;
const CODE_BITS = 26n;
const MAX_POINTS = 1 << 26;

/**
 * The sweep. Between two consecutive points the active set is fixed; with n active requests of
 * marginal rates r_i summing to R, a stretch of held time T goes T*r_i/R to each when R >= 1
 * (marginal work fills the stretch), else T*r_i + T*(1-R)/n (marginal work, then the fixed part
 * in equal shares). Both are rate_i * A + B, so running sums A and B, read when a phase starts and
 * ends, give every request its share in O(1) per point rather than O(n) per stretch.
 */
function sweepPod(
  requests: readonly UsageRecord[],
  segments: readonly RateSegment[],
  dayStart: Micros,
  dayEnd: Micros,
  weighting: Weighting,
): SweepResult {
  const n = requests.length;
  const pointCount = 3 * n + 2 * segments.length;
  if (pointCount >= MAX_POINTS) throw new PermanentError(`pod has too many events in one day (${n})`);
  const prefillRate = new Float64Array(n);
  const decodeRate = new Float64Array(n);
  const points = new BigInt64Array(pointCount);
  const clamp = (t: Micros): bigint =>
    BigInt(Math.min(Math.max(t, dayStart), dayEnd) - dayStart) << CODE_BITS;
  requests.forEach((request, i) => {
    const start = activeStart(request);
    const prefillEnd = request.firstTokenAt ?? request.finishedAt;
    const rates = phaseRates(weighting, request, prefillEnd - start, request.finishedAt - prefillEnd);
    prefillRate[i] = rates.prefill;
    decodeRate[i] = rates.decode;
    points[3 * i] = clamp(start) | BigInt(3 * i + ENTER);
    points[3 * i + 1] = clamp(prefillEnd) | BigInt(3 * i + DECODE);
    points[3 * i + 2] = clamp(request.finishedAt) | BigInt(3 * i + EXIT);
  });
  segments.forEach((segment, j) => {
    points[3 * n + 2 * j] = clamp(segment.start) | BigInt(3 * n + 2 * j);
    points[3 * n + 2 * j + 1] = clamp(segment.end) | BigInt(3 * n + 2 * j + 1);
  });
  points.sort();

  const costs = new Float64Array(n + 1);
  const times = new Float64Array(n + 1);
  const markCostA = new Float64Array(n);
  const markCostB = new Float64Array(n);
  const markTimeA = new Float64Array(n);
  const markTimeB = new Float64Array(n);
  let costA = 0;
  let costB = 0;
  let timeA = 0;
  let timeB = 0;
  let idleCost = 0;
  let idleTime = 0;
  let active = 0;
  let rateSum = 0;
  let nanosPerMicro = 0;
  let gpus = 0;
  let last = 0;
  const mask = (1n << CODE_BITS) - 1n;

  const close = (i: number, rate: number): void => {
    costs[i] = (costs[i] ?? 0) + rate * (costA - (markCostA[i] ?? 0)) + (costB - (markCostB[i] ?? 0));
    times[i] = (times[i] ?? 0) + rate * (timeA - (markTimeA[i] ?? 0)) + (timeB - (markTimeB[i] ?? 0));
  };
  const open = (i: number): void => {
    markCostA[i] = costA;
    markCostB[i] = costB;
    markTimeA[i] = timeA;
    markTimeB[i] = timeB;
  };

  for (const point of points) {
    const t = Number(point >> CODE_BITS);
    const code = Number(point & mask);
    const dt = t - last;
    if (dt > 0 && gpus > 0) {
      if (active === 0) {
        idleCost += dt * nanosPerMicro;
        idleTime += dt * gpus;
      } else if (rateSum >= 1) {
        costA += (dt * nanosPerMicro) / rateSum;
        timeA += (dt * gpus) / rateSum;
      } else {
        costA += dt * nanosPerMicro;
        timeA += dt * gpus;
        costB += (dt * nanosPerMicro * (1 - rateSum)) / active;
        timeB += (dt * gpus * (1 - rateSum)) / active;
      }
    }
    last = t;
    if (code >= 3 * n) {
      const segment = segments[(code - 3 * n) >> 1];
      const starts = (code - 3 * n) % 2 === 0;
      nanosPerMicro = starts && segment !== undefined ? segment.nanosPerMicro : 0;
      gpus = starts && segment !== undefined ? segment.gpus : 0;
      continue;
    }
    const i = Math.floor(code / 3);
    const kind = code - 3 * i;
    const prefill = prefillRate[i] ?? 0;
    const decode = decodeRate[i] ?? 0;
    if (kind === ENTER) {
      active += 1;
      rateSum += prefill;
      open(i);
    } else if (kind === DECODE) {
      close(i, prefill);
      rateSum += decode - prefill;
      open(i);
    } else {
      close(i, decode);
      active -= 1;
      rateSum = active === 0 ? 0 : rateSum - decode;
    }
  }
  return { costs, times, idleCost, idleTime };
}
