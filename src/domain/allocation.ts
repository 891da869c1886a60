import { apportion } from './apportion.js';
import { PermanentError } from './errors.js';
import { clip, meets, union, type Interval } from './intervals.js';
import { exactTotals, rateSegments, type RateSegment } from './pod-cost.js';
import type { Nanos, PriceCard } from './prices.js';
import type { UsageRecord } from './records.js';
import type { Micros } from './timestamp.js';
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

// A point of the sweep is one 64-bit integer: its time (microseconds since dayStart) in the high
// bits, a code in the low CODE_BITS. Sorting the packed values orders points by time, then code,
// in one typed-array sort without a comparator or an object per point, which is what keeps a day
// of a busy pod fast. Codes: request i enters at 3i + ENTER, starts decoding at 3i + DECODE and
// leaves at 3i + EXIT; held segment j starts at 3n + 2j and ends at 3n + 2j + 1.
const ENTER = 0;
const DECODE = 1;
const EXIT = 2;
const CODE_BITS = 26n;
const CODE_MASK = (1n << CODE_BITS) - 1n;
const MAX_POINTS = 1 << 26;

/** The sweep's input: every phase and segment boundary as a sorted packed point, and the rates. */
interface SweepPoints {
  readonly points: BigInt64Array;
  /** Marginal work rate of request i in prefill, and in decode (see phaseRates). */
  readonly prefillRate: Float64Array;
  readonly decodeRate: Float64Array;
}

/** Each request's weight for apportioning the pod's cost and GPU-time; idle's in the last slot. */
interface SweepResult {
  readonly costs: Float64Array;
  readonly times: Float64Array;
}

function buildPoints(
  requests: readonly UsageRecord[],
  segments: readonly RateSegment[],
  dayStart: Micros,
  dayEnd: Micros,
  weighting: Weighting,
): SweepPoints {
  const n = requests.length;
  const pointCount = 3 * n + 2 * segments.length;
  if (pointCount >= MAX_POINTS) throw new PermanentError(`pod has too many events in one day (${n})`);
  const prefillRate = new Float64Array(n);
  const decodeRate = new Float64Array(n);
  const points = new BigInt64Array(pointCount);
  const at = (t: Micros): bigint => BigInt(Math.min(Math.max(t, dayStart), dayEnd) - dayStart) << CODE_BITS;
  requests.forEach((request, i) => {
    const start = activeStart(request);
    const prefillEnd = request.firstTokenAt ?? request.finishedAt;
    const rates = phaseRates(weighting, request, prefillEnd - start, request.finishedAt - prefillEnd);
    prefillRate[i] = rates.prefill;
    decodeRate[i] = rates.decode;
    points[3 * i] = at(start) | BigInt(3 * i + ENTER);
    points[3 * i + 1] = at(prefillEnd) | BigInt(3 * i + DECODE);
    points[3 * i + 2] = at(request.finishedAt) | BigInt(3 * i + EXIT);
  });
  segments.forEach((segment, j) => {
    points[3 * n + 2 * j] = at(segment.start) | BigInt(3 * n + 2 * j);
    points[3 * n + 2 * j + 1] = at(segment.end) | BigInt(3 * n + 2 * j + 1);
  });
  points.sort();
  return { points, prefillRate, decodeRate };
}

/**
 * The sweep: walks the points in time order, tracking the price and GPUs held (from the segment
 * points) and who is active in which phase (from the request points), and hands every stretch of
 * held time and every phase change to the running shares.
 */
function sweepPod(
  requests: readonly UsageRecord[],
  segments: readonly RateSegment[],
  dayStart: Micros,
  dayEnd: Micros,
  weighting: Weighting,
): SweepResult {
  const { points, prefillRate, decodeRate } = buildPoints(requests, segments, dayStart, dayEnd, weighting);
  const n = requests.length;
  const shares = new RunningShares(n);
  let nanosPerMicro = 0;
  let gpus = 0; // 0 outside held time: nothing to share
  let last = 0;
  for (const point of points) {
    const t = Number(point >> CODE_BITS);
    const code = Number(point & CODE_MASK);
    if (t > last && gpus > 0) shares.hold(t - last, nanosPerMicro, gpus);
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
    if (kind === ENTER) shares.enter(i, prefill);
    else if (kind === DECODE) shares.switchPhase(i, prefill, decode);
    else shares.leave(i, decode);
  }
  return { costs: shares.costs, times: shares.times };
}

/**
 * The accumulation. Between two consecutive points the active set is fixed; with n active
 * requests of marginal rates r_i summing to R, a stretch of held time T goes T*r_i/R to each when
 * R >= 1 (marginal work fills the stretch), else T*r_i + T*(1-R)/n (marginal work, then the fixed
 * part in equal shares). Both are rate_i * A + B, so running sums A and B, marked when a phase
 * starts and read when it ends, give every request its share in O(1) per point rather than O(n)
 * per stretch. Cost (nano-dollars) and GPU-time (GPU-microseconds) are shared alike.
 */
class RunningShares {
  /** Per request, then idle in slot n. */
  readonly costs: Float64Array;
  readonly times: Float64Array;
  private costA = 0;
  private costB = 0;
  private timeA = 0;
  private timeB = 0;
  private active = 0;
  private rateSum = 0;
  /** The running sums when request i's current phase began. */
  private readonly markCostA: Float64Array;
  private readonly markCostB: Float64Array;
  private readonly markTimeA: Float64Array;
  private readonly markTimeB: Float64Array;

  constructor(private readonly n: number) {
    this.costs = new Float64Array(n + 1);
    this.times = new Float64Array(n + 1);
    this.markCostA = new Float64Array(n);
    this.markCostB = new Float64Array(n);
    this.markTimeA = new Float64Array(n);
    this.markTimeB = new Float64Array(n);
  }

  /** A stretch of dt held microseconds, at nanosPerMicro for gpus GPUs, shared by the active set. */
  hold(dt: number, nanosPerMicro: number, gpus: number): void {
    if (this.active === 0) {
      this.costs[this.n] = (this.costs[this.n] ?? 0) + dt * nanosPerMicro;
      this.times[this.n] = (this.times[this.n] ?? 0) + dt * gpus;
    } else if (this.rateSum >= 1) {
      this.costA += (dt * nanosPerMicro) / this.rateSum;
      this.timeA += (dt * gpus) / this.rateSum;
    } else {
      this.costA += dt * nanosPerMicro;
      this.timeA += dt * gpus;
      this.costB += (dt * nanosPerMicro * (1 - this.rateSum)) / this.active;
      this.timeB += (dt * gpus * (1 - this.rateSum)) / this.active;
    }
  }

  /** Request i becomes active, in prefill at marginal rate `rate`. */
  enter(i: number, rate: number): void {
    this.active += 1;
    this.rateSum += rate;
    this.mark(i);
  }

  /** Request i leaves a phase of rate `from` for one of rate `to`. */
  switchPhase(i: number, from: number, to: number): void {
    this.credit(i, from);
    this.rateSum += to - from;
    this.mark(i);
  }

  /** Request i stops being active; `rate` was its phase's. */
  leave(i: number, rate: number): void {
    this.credit(i, rate);
    this.active -= 1;
    // Exactly 0 when no one is left, so that rounding in the running sum cannot carry over.
    this.rateSum = this.active === 0 ? 0 : this.rateSum - rate;
  }

  private mark(i: number): void {
    this.markCostA[i] = this.costA;
    this.markCostB[i] = this.costB;
    this.markTimeA[i] = this.timeA;
    this.markTimeB[i] = this.timeB;
  }

  /** Adds to request i its share of the phase that ends now. */
  private credit(i: number, rate: number): void {
    this.costs[i] =
      (this.costs[i] ?? 0) +
      rate * (this.costA - (this.markCostA[i] ?? 0)) +
      (this.costB - (this.markCostB[i] ?? 0));
    this.times[i] =
      (this.times[i] ?? 0) +
      rate * (this.timeA - (this.markTimeA[i] ?? 0)) +
      (this.timeB - (this.markTimeB[i] ?? 0));
  }
}
