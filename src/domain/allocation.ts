import { apportion } from './apportion.js';
import { PermanentError } from './errors.js';
import { clip, meets, union, type Interval } from './intervals.js';
import { exactTotals, rateSegments, type RateSegment } from './pod-cost.js';
import type { Nanos, PriceCard } from './prices.js';
import type { UsageRecord } from './records.js';
import type { Micros } from './timestamp.js';
import { phaseRates, recomputeWork, type Weighting } from './weighting.js';

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
  /** False when no capacity window of its pod covers any of its active time (contracts.md §4.5). */
  readonly metered: boolean;
  /** gpuMicros split by what it paid for (see phaseSplit); the three add up to gpuMicros. */
  readonly prefillGpuMicros: number;
  readonly decodeGpuMicros: number;
  readonly fixedGpuMicros: number;
  /** Requests active on the pod while it was, itself included: time-weighted mean, and most at once. */
  readonly meanConcurrency: number;
  readonly maxConcurrency: number;
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
 * Divides one pod's GPU-time within the day [dayStart, dayEnd) among its requests (contracts.md §4.1-4.3):
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
  const timeShare = weighting.kind === 'time-share';
  const shares = timeline.requests.map((request, i) => {
    const micros = gpuMicros[i] ?? 0;
    const split = phaseSplit(micros, sweep, i, timeShare);
    return {
      request,
      nanos: nanos[i] ?? 0,
      gpuMicros: micros,
      metered: meets(held, activeStart(request), request.finishedAt),
      prefillGpuMicros: split[0] ?? 0,
      decodeGpuMicros: split[1] ?? 0,
      fixedGpuMicros: split[2] ?? 0,
      meanConcurrency: sweep.meanConcurrency[i] ?? 1,
      maxConcurrency: sweep.maxConcurrency[i] ?? 1,
    };
  });
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

/**
 * A request's whole GPU-microseconds split into what it paid for: under `step-cost`, its own
 * marginal prefill work, its own marginal decode work, and its share of the fixed per-step part that
 * every active request splits; under `time-share`, which has no marginal work, what it got while in
 * prefill and while decoding, and no fixed part. Integers that add up to `micros` exactly.
 */
function phaseSplit(micros: number, sweep: SweepResult, i: number, timeShare: boolean): number[] {
  const fixedPrefill = sweep.fixedPrefill[i] ?? 0;
  const fixedDecode = sweep.fixedDecode[i] ?? 0;
  const weights = timeShare
    ? [(sweep.prefill[i] ?? 0) + fixedPrefill, (sweep.decode[i] ?? 0) + fixedDecode, 0]
    : [sweep.prefill[i] ?? 0, sweep.decode[i] ?? 0, fixedPrefill + fixedDecode];
  return apportion(micros, weights);
}

/** The end of the request's queue wait (contracts.md §4.2): startedAt + queueMs, never past its first token. */
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
// leaves at 3i + EXIT; held segment j starts at 3n + 2j and ends at 3n + 2j + 1; stall k of the
// pod (stalls of step-cost weightings only) begins at 3n + 2s + 2k + STALL, where s is the number of
// segments, and ends at 3n + 2s + 2k + RESUME.
const ENTER = 0;
const DECODE = 1;
const EXIT = 2;
const STALL = 0;
const RESUME = 1;
const CODE_BITS = 26n;
const CODE_MASK = (1n << CODE_BITS) - 1n;
const MAX_POINTS = 1 << 26;

/** The sweep's input: every phase and segment boundary as a sorted packed point, and the rates. */
interface SweepPoints {
  readonly points: BigInt64Array;
  /** Marginal work rate of request i in prefill, and in decode (see phaseRates). */
  readonly prefillRate: Float64Array;
  readonly decodeRate: Float64Array;
  /** The first stall code, and per stall its request and its recompute's marginal rate. */
  readonly stallBase: number;
  readonly stallOwner: readonly number[];
  readonly stallRate: readonly number[];
}

/** A stall's span in the sweep (microseconds) and its recompute's marginal rate over it. */
interface StallSpan {
  readonly start: Micros;
  readonly end: Micros;
  readonly rate: number;
}

/**
 * A request's stalls as spans of its decode window (docs/accounting.md#recompute-preemption):
 * each clipped to the window and to after the one before (the attribute's whole ms are rounded),
 * with the recompute of its context spread over it; and the decode window's time outside them.
 */
function stallSpans(
  request: UsageRecord,
  weighting: Weighting,
  prefillEnd: Micros,
): { spans: StallSpan[]; stalled: number } {
  const spans: StallSpan[] = [];
  let stalled = 0;
  let after = prefillEnd;
  for (const stall of request.stalls ?? []) {
    const start = Math.max(after, prefillEnd + Math.round(stall.atMs * 1000));
    const end = Math.min(request.finishedAt - 1, start + Math.round(stall.gapMs * 1000));
    if (end <= start) continue;
    const work = recomputeWork(weighting, request, stall.tokens) * 1000;
    spans.push({ start, end, rate: work / (end - start) });
    stalled += end - start;
    after = end;
  }
  return { spans, stalled };
}

/** Each request's weight for apportioning the pod's cost and GPU-time; idle's in the last slot. */
interface SweepResult {
  readonly costs: Float64Array;
  readonly times: Float64Array;
  /** Per request, its GPU-time by part: marginal prefill, marginal decode, fixed share in each phase. */
  readonly prefill: Float64Array;
  readonly decode: Float64Array;
  readonly fixedPrefill: Float64Array;
  readonly fixedDecode: Float64Array;
  readonly meanConcurrency: Float64Array;
  readonly maxConcurrency: Int32Array;
}

function buildPoints(
  requests: readonly UsageRecord[],
  segments: readonly RateSegment[],
  dayStart: Micros,
  dayEnd: Micros,
  weighting: Weighting,
): SweepPoints {
  const n = requests.length;
  const stallBase = 3 * n + 2 * segments.length;
  const withStalls = weighting.kind === 'time-share' ? 0 : stallCount(requests);
  const prefillRate = new Float64Array(n);
  const decodeRate = new Float64Array(n);
  const stallOwner: number[] = [];
  const stallRate: number[] = [];
  const at = (t: Micros): bigint => BigInt(Math.min(Math.max(t, dayStart), dayEnd) - dayStart) << CODE_BITS;
  const points = new BigInt64Array(stallBase + 2 * withStalls);
  if (points.length >= MAX_POINTS) throw new PermanentError(`pod has too many events in one day (${n})`);
  requests.forEach((request, i) => {
    const start = activeStart(request);
    const prefillEnd = request.firstTokenAt ?? request.finishedAt;
    let stalled = 0;
    if (withStalls > 0 && request.stalls !== undefined && request.firstTokenAt !== null) {
      const found = stallSpans(request, weighting, prefillEnd);
      stalled = found.stalled;
      for (const span of found.spans) {
        // Only the day's part has points, ending before the day's end, where the request's exit
        // (clipped to it) must come after its resume.
        const from = Math.max(span.start, dayStart);
        const to = Math.min(span.end, dayEnd - 1);
        if (to <= from) continue;
        const code = stallBase + 2 * stallOwner.length;
        stallOwner.push(i);
        stallRate.push(span.rate);
        points[code + STALL] = at(from) | BigInt(code + STALL);
        points[code + RESUME] = at(to) | BigInt(code + RESUME);
      }
    }
    const rates = phaseRates(
      weighting,
      request,
      prefillEnd - start,
      request.finishedAt - prefillEnd - stalled,
    );
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
  // Stalls outside the day leave no points.
  const all = points.subarray(0, stallBase + 2 * stallOwner.length);
  all.sort();
  return { points: all, prefillRate, decodeRate, stallBase, stallOwner, stallRate };
}

/** How many stalls the pod's requests carry (0 on a pod without: nothing else to do). */
function stallCount(requests: readonly UsageRecord[]): number {
  let count = 0;
  for (const r of requests) if (r.stalls !== undefined) count += r.stalls.length;
  return count;
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
  const { points, prefillRate, decodeRate, stallBase, stallOwner, stallRate } = buildPoints(
    requests,
    segments,
    dayStart,
    dayEnd,
    weighting,
  );
  const n = requests.length;
  const shares = new RunningShares(n);
  const busy = new Concurrency(requests.length, points.length);
  let nanosPerMicro = 0;
  let gpus = 0; // 0 outside held time: nothing to share
  let last = 0;
  for (let p = 0; p < points.length; p++) {
    const point = points[p] ?? 0n;
    const t = Number(point >> CODE_BITS);
    const code = Number(point & CODE_MASK);
    if (t > last && gpus > 0) shares.hold(t - last, nanosPerMicro, gpus);
    busy.at(p, t);
    last = t;
    if (code >= stallBase) {
      // A stall: the request leaves decode for its recompute (prefill work), then decodes again.
      const k = (code - stallBase) >> 1;
      const i = stallOwner[k] ?? 0;
      const rate = stallRate[k] ?? 0;
      if ((code - stallBase) % 2 === STALL) shares.switchPhase(i, decodeRate[i] ?? 0, rate, false);
      else shares.switchPhase(i, rate, decodeRate[i] ?? 0, true);
      continue;
    }
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
      shares.enter(i, prefill);
      busy.enter(i, p, t);
    } else if (kind === DECODE) shares.switchPhase(i, prefill, decode, true);
    else {
      shares.leave(i, decode);
      busy.leave(i, p, t);
    }
  }
  busy.finish();
  return {
    costs: shares.costs,
    times: shares.times,
    prefill: shares.prefill,
    decode: shares.decode,
    fixedPrefill: shares.fixedPrefill,
    fixedDecode: shares.fixedDecode,
    meanConcurrency: busy.mean,
    maxConcurrency: busy.max,
  };
}

/**
 * How many requests were active while each one was: the time-weighted mean from a running
 * integral of the active count (held time or not: the GPU is shared whether or not the pod's
 * capacity events cover it), and the most at once from a range-maximum tree over the active count
 * after each point. A count that lasts no time (a request leaving at the instant another enters)
 * does not count, so two back-to-back requests were never "two at once".
 */
class Concurrency {
  readonly mean: Float64Array;
  readonly max: Int32Array;
  private active = 0;
  private integral = 0;
  private lastT = 0;
  private lastP = -1;
  /** Leaves: the count that held after each point for some time; 0 when it lasted none. */
  private readonly tree: Int32Array;
  private readonly size: number;
  private readonly enterPoint: Int32Array;
  private readonly enterT: Float64Array;
  private readonly enterIntegral: Float64Array;
  private readonly exitPoint: Int32Array;
  private readonly exitT: Float64Array;
  private readonly exitIntegral: Float64Array;

  constructor(n: number, points: number) {
    this.mean = new Float64Array(n).fill(1);
    this.max = new Int32Array(n).fill(1);
    this.size = Math.max(1, points);
    this.tree = new Int32Array(2 * this.size);
    this.enterPoint = new Int32Array(n);
    this.enterT = new Float64Array(n);
    this.enterIntegral = new Float64Array(n);
    this.exitPoint = new Int32Array(n);
    this.exitT = new Float64Array(n);
    this.exitIntegral = new Float64Array(n);
  }

  /** Point p at time t, before its own change: the count since the previous point lasted until now. */
  at(p: number, t: number): void {
    if (this.lastP >= 0 && t > this.lastT) this.tree[this.size + this.lastP] = this.active;
    this.integral += (t - this.lastT) * this.active;
    this.lastT = t;
    this.lastP = p;
  }

  enter(i: number, p: number, t: number): void {
    this.active += 1;
    this.enterPoint[i] = p;
    this.enterT[i] = t;
    this.enterIntegral[i] = this.integral;
  }

  leave(i: number, p: number, t: number): void {
    this.active -= 1;
    this.exitPoint[i] = p;
    this.exitT[i] = t;
    this.exitIntegral[i] = this.integral;
  }

  /** After the last point: builds the tree and answers every request's mean and maximum. */
  finish(): void {
    for (let k = this.size - 1; k > 0; k--)
      this.tree[k] = Math.max(this.tree[2 * k] ?? 0, this.tree[2 * k + 1] ?? 0);
    for (let i = 0; i < this.mean.length; i++) {
      const span = (this.exitT[i] ?? 0) - (this.enterT[i] ?? 0);
      if (span <= 0) continue;
      this.mean[i] = ((this.exitIntegral[i] ?? 0) - (this.enterIntegral[i] ?? 0)) / span;
      this.max[i] = Math.max(1, this.rangeMax(this.enterPoint[i] ?? 0, this.exitPoint[i] ?? 0));
    }
  }

  /** The largest count that lasted some time after a point in [from, to). */
  private rangeMax(from: number, to: number): number {
    let best = 0;
    for (let l = from + this.size, r = to + this.size; l < r; l >>= 1, r >>= 1) {
      if (l & 1) best = Math.max(best, this.tree[l++] ?? 0);
      if (r & 1) best = Math.max(best, this.tree[--r] ?? 0);
    }
    return best;
  }
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
  /** Per request, the GPU-time of its marginal prefill and decode work, and its fixed share by phase. */
  readonly prefill: Float64Array;
  readonly decode: Float64Array;
  readonly fixedPrefill: Float64Array;
  readonly fixedDecode: Float64Array;
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
    this.prefill = new Float64Array(n);
    this.decode = new Float64Array(n);
    this.fixedPrefill = new Float64Array(n);
    this.fixedDecode = new Float64Array(n);
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

  /** Request i leaves a phase of rate `from` (prefill work, or decode) for one of rate `to`. */
  switchPhase(i: number, from: number, to: number, prefill: boolean): void {
    this.credit(i, from, prefill);
    this.rateSum += to - from;
    this.mark(i);
  }

  /** Request i stops being active; `rate` was its phase's. */
  leave(i: number, rate: number): void {
    this.credit(i, rate, false);
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
  private credit(i: number, rate: number, prefill: boolean): void {
    this.costs[i] =
      (this.costs[i] ?? 0) +
      rate * (this.costA - (this.markCostA[i] ?? 0)) +
      (this.costB - (this.markCostB[i] ?? 0));
    const marginal = rate * (this.timeA - (this.markTimeA[i] ?? 0));
    const fixed = this.timeB - (this.markTimeB[i] ?? 0);
    this.times[i] = (this.times[i] ?? 0) + marginal + fixed;
    if (prefill) {
      this.prefill[i] = (this.prefill[i] ?? 0) + marginal;
      this.fixedPrefill[i] = (this.fixedPrefill[i] ?? 0) + fixed;
    } else {
      this.decode[i] = (this.decode[i] ?? 0) + marginal;
      this.fixedDecode[i] = (this.fixedDecode[i] ?? 0) + fixed;
    }
  }
}
