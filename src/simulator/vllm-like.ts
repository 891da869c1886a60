import { isStall, MAX_STALLS, type Stall } from '../domain/stalls.js';
import type { EngineConfig, EngineRequest, VllmLikeCosts } from './engine-types.js';

export type { VllmLikeCosts } from './engine-types.js';

/**
 * A second engine model, with effects a real vLLM has that the linear step-cost model leaves out
 * (docs/simulator.md#the-vllm-like-engine):
 *
 * - chunked prefill under the per-step token budget, where a chunk of c tokens at offset o (tokens
 *   of the same sequence already in the KV cache) costs prefillPerToken x c + attentionPerTokenPair
 *   x c x (o + c/2): attention grows with context;
 * - CUDA-graph padding: a step with no prefill in it runs the captured graph of the smallest
 *   captured batch size at or above its decoding sequences (1, 2, 4, 8, 16, 24, 32, ... 256) and
 *   costs decodePerToken for every padded seat;
 * - recompute preemption: the KV cache holds kvCacheTokens; when the running sequences cannot all
 *   grow by a token, the newest is preempted, its cache freed, and its whole context (prompt and
 *   the tokens it made) recomputed as prefill when it is scheduled again, inside its decode window.
 *
 * The truth is each step's duration split by the Shapley share of the step among the sequences in
 * it: the fixed part and the padded seats of a decode batch are shared equally (every sequence is
 * symmetric in them), each sequence's own chunks, attention and decode reads are its own.
 */

/** vLLM's captured CUDA-graph batch sizes: 1, 2, 4, then every 8 up to 256. */
export const CAPTURED_SIZES: readonly number[] = [
  1,
  2,
  4,
  ...Array.from({ length: 32 }, (_, i) => 8 * (i + 1)),
];

/** The captured batch size a decode-only step of n sequences runs at (n itself past the largest). */
export function paddedBatch(n: number): number {
  for (const size of CAPTURED_SIZES) if (size >= n) return size;
  return n;
}

type State = 'waiting' | 'prefill' | 'decode' | 'done';

interface Seq {
  readonly request: EngineRequest;
  state: State;
  /** Tokens held in the KV cache (while prefilling: cached prefix and chunks computed). */
  offset: number;
  prefillLeft: number;
  chunk: number;
  /** Tokens made so far (0 until the first token). */
  produced: number;
  finishKey: number;
  joinShare: number;
  excludedShare: number;
  pausedAt: number;
  /** Its own prefill work (chunks and their attention), ms. */
  own: number;
  order: number;
  /** Its stream as a client sees it: first token, last token before a preemption, stalls found. */
  firstAt: number;
  lastAt: number;
  /** The pod's steps made when that token came. */
  lastStep: number;
  /** Decoding again after a recompute, its next token not yet made. */
  returning: boolean;
  stallCount: number;
  stallGap: number;
  stalls: Stall[] | undefined;
}

/** Runs the vLLM-like engine over arrivals sorted by time and yields each request when it ends. */
export function* runVllmLike(
  config: EngineConfig,
  costs: VllmLikeCosts,
  arrivals: readonly EngineRequest[],
): Generator<EngineRequest> {
  if (!(costs.kvCacheTokens > 0))
    throw new Error(`kvCacheTokens must be positive, got ${costs.kvCacheTokens}`);
  const f = config.stepFactor;
  const base = costs.base * f;
  const prefill = costs.prefillPerToken * f;
  const attention = costs.attentionPerTokenPair * f;
  const decode = costs.decodePerToken * f;
  const context = costs.perContextToken * f;
  const capacity = costs.kvCacheTokens;
  const observe = config.onSteps;

  let now = 0;
  let step = 0;
  let share = 0;
  let decoding = 0;
  let contextSum = 0; // KV of decoding sequences = context their next decode reads
  let prefillKv = 0; // KV held by prefilling sequences
  let prefilling: Seq[] = [];
  let running: Seq[] = []; // scheduling order, newest last; done ones dropped lazily
  let order = 0;
  const waiting: Seq[] = [];
  let head = 0;
  const resumed: Seq[] = []; // preempted, scheduled again before any new request
  let next = 0;
  const heap = new KeyHeap();
  const done: EngineRequest[] = [];

  const finish = (s: Seq): void => {
    const r = s.request;
    const m = Math.max(0, r.produced - 1);
    s.state = 'done';
    r.finishedAt = now;
    if (s.stalls !== undefined) r.stalls = s.stalls;
    r.gpuMs =
      share -
      s.joinShare -
      s.excludedShare +
      s.own +
      m * decode +
      context * (m * (r.promptTokens + 1) + (m * (m - 1)) / 2);
    done.push(r);
  };

  const preempt = (): boolean => {
    while (running.length > 0 && (running[running.length - 1] as Seq).state === 'done') running.pop();
    const s = running.pop();
    if (s === undefined) return false;
    const r = s.request;
    if (s.state === 'decode') {
      s.produced = r.target - (s.finishKey - step);
      // Its last token came at the end of the last step, unless it has made none since a resume.
      if (!s.returning) {
        s.lastAt = now;
        s.lastStep = step;
      }
      s.returning = false;
      decoding -= 1;
      contextSum -= r.promptTokens + s.produced;
    } else {
      prefillKv -= s.offset;
      prefilling = prefilling.filter((p) => p !== s);
    }
    s.state = 'waiting';
    s.pausedAt = share;
    if (s.produced > 0) {
      s.offset = 0;
      s.prefillLeft = r.promptTokens + s.produced;
    } else {
      s.offset = r.cachedPromptTokens;
      s.prefillLeft = Math.max(1, r.promptTokens - r.cachedPromptTokens);
    }
    resumed.push(s);
    return true;
  };

  /**
   * The first token of each sequence decoding again after a recompute, as its client sees it: a
   * stall by the sidecar's rule (domain/stalls.ts) when it came `stepsBetween` steps of the pod
   * after its last one. Every other token of a decoding sequence comes one step after the one before,
   * never a stall by that rule: only these are looked at.
   */
  const returning: Seq[] = [];
  const streamGaps = (end: number): void => {
    for (const s of returning) {
      if (!s.returning || s.state !== 'decode') continue;
      s.returning = false;
      const gap = end - s.lastAt;
      const gaps = s.produced - 1 - s.stallCount;
      const mean = gaps > 0 ? (s.lastAt - s.firstAt - s.stallGap) / gaps : 0;
      if (!isStall(gap, step - s.lastStep, gaps, mean)) continue;
      s.stallCount += 1;
      s.stallGap += gap;
      s.stalls ??= [];
      if (s.stalls.length < MAX_STALLS)
        s.stalls.push({ atMs: s.lastAt - s.firstAt, gapMs: gap, tokens: s.produced });
    }
    returning.length = 0;
  };

  for (;;) {
    for (let a = arrivals[next]; a !== undefined && a.arrival <= now; a = arrivals[++next]) {
      if (a.refused) {
        a.finishedAt = a.arrival + 2;
        done.push(a);
      } else {
        const left = Math.max(1, a.promptTokens - a.cachedPromptTokens);
        waiting.push({
          request: a,
          state: 'waiting',
          offset: a.cachedPromptTokens,
          prefillLeft: left,
          chunk: 0,
          produced: 0,
          finishKey: 0,
          joinShare: 0,
          excludedShare: 0,
          pausedAt: 0,
          own: 0,
          order: 0,
          firstAt: 0,
          lastAt: 0,
          lastStep: 0,
          returning: false,
          stallCount: 0,
          stallGap: 0,
          stalls: undefined,
        });
      }
    }
    if (done.length > 0) {
      yield* done;
      done.length = 0;
    }
    if (running.length > 2 * (decoding + prefilling.length) + 64)
      running = running.filter((s) => s.state !== 'done');
    // Every decoding sequence needs a seat for its next token: preempt the newest until they fit.
    while (decoding + prefillKv + contextSum > capacity && decoding + prefilling.length > 1) preempt();
    const seats = decoding + prefilling.length;
    const queued = waiting.length - head + resumed.length;
    if (seats === 0 && queued === 0) {
      const a = arrivals[next];
      if (a === undefined) return;
      now = Math.max(now, a.arrival);
      continue;
    }
    const free = capacity - contextSum - prefillKv - decoding;
    const canAdmit = queued > 0 && seats < config.maxSeqs && free > 0;
    if (prefilling.length === 0 && !canAdmit && decoding > 0) {
      // Pure decode at the padded batch size; every context grows by one token a step.
      const padded = paddedBatch(decoding);
      const first = base + padded * decode + context * contextSum;
      const slope = context * decoding;
      let k = config.stepwise === true ? 1 : heap.minKey() - step;
      k = Math.min(k, Math.max(1, Math.floor(free / decoding) + 1));
      const a = arrivals[next];
      if (k > 1 && seats < config.maxSeqs && a !== undefined)
        k = Math.min(k, stepsToReach(a.arrival - now, first, slope));
      k = Math.max(1, k);
      if (observe !== undefined)
        observe({
          start: now,
          steps: k,
          firstMs: first,
          slopeMs: slope,
          decoding,
          promptTokens: 0,
          firstTokens: 0,
          prefillTokens: 0,
        });
      // Later steps of the stretch are as long give or take the slope: the first one stands for them.
      if (returning.length > 0) streamGaps(now + first);
      now += k * first + (slope * k * (k - 1)) / 2;
      share += (k * (base + decode * (padded - decoding))) / decoding;
      contextSum += k * decoding;
      step += k;
    } else {
      let budget = Math.min(config.tokenBudget - decoding, free);
      let prefillTokens = 0;
      let inStep = decoding;
      let work = 0;
      const chunkOf = (s: Seq): void => {
        s.chunk = Math.max(0, Math.min(s.prefillLeft, budget));
        budget -= s.chunk;
        prefillTokens += s.chunk;
        if (s.chunk > 0) {
          const c = s.chunk;
          const w = prefill * c + attention * c * (s.offset + c / 2);
          s.own += w;
          work += w;
          inStep += 1;
        }
      };
      for (const s of prefilling) chunkOf(s);
      while (budget > 0 && decoding + prefilling.length < config.maxSeqs) {
        const s = resumed.pop() ?? (head < waiting.length ? waiting[head++] : undefined);
        if (s === undefined) break;
        if (s.produced === 0 && s.request.scheduledAt === undefined) s.request.scheduledAt = now;
        if (s.order === 0) s.joinShare = share;
        else s.excludedShare += share - s.pausedAt;
        s.order = ++order;
        s.state = 'prefill';
        prefillKv += s.offset;
        prefilling.push(s);
        running.push(s);
        chunkOf(s);
      }
      if (inStep === 0) {
        // The cache is full of partial prefills: free the newest, or give up on a cache too small.
        if (decoding + prefilling.length > 1 && preempt()) continue;
        throw new Error(`vllm-like engine: a KV cache of ${capacity} tokens cannot hold one sequence`);
      }
      const fixed = base / inStep;
      share += fixed;
      const started = now;
      const stepMs = base + work + decode * decoding + context * contextSum;
      const decoded = decoding;
      if (returning.length > 0) streamGaps(now + stepMs);
      now += stepMs;
      step += 1;
      contextSum += decoding;
      let prompted = 0;
      let firstTokens = 0;
      const still: Seq[] = [];
      for (const s of prefilling) {
        if (s.chunk === 0) s.excludedShare += fixed;
        s.prefillLeft -= s.chunk;
        s.offset += s.chunk;
        prefillKv += s.chunk;
        if (s.prefillLeft > 0) {
          still.push(s);
          continue;
        }
        prefillKv -= s.offset;
        const r = s.request;
        if (s.produced > 0) {
          // A recompute ends: the sequence decodes again from where it was.
          s.state = 'decode';
          s.returning = true;
          returning.push(s);
          decoding += 1;
          contextSum += r.promptTokens + s.produced;
          s.finishKey = step + r.target - s.produced;
          heap.push(s.finishKey, s);
          continue;
        }
        prompted += r.promptTokens;
        if (r.target > 0) firstTokens += 1;
        if (r.target === 0) {
          finish(s);
        } else {
          r.firstTokenAt = now;
          s.firstAt = now;
          r.produced = 1;
          s.produced = 1;
          if (r.target === 1) {
            finish(s);
          } else {
            s.state = 'decode';
            decoding += 1;
            contextSum += r.promptTokens + 1;
            s.finishKey = step + r.target - 1;
            heap.push(s.finishKey, s);
          }
        }
      }
      prefilling = still;
      if (observe !== undefined)
        observe({
          start: started,
          steps: 1,
          firstMs: stepMs,
          slopeMs: 0,
          decoding: decoded,
          promptTokens: prompted,
          firstTokens,
          prefillTokens,
        });
    }
    for (let s = heap.popAt(step); s !== undefined; s = heap.popAt(step)) {
      const r = s.request;
      decoding -= 1;
      contextSum -= r.promptTokens + r.target;
      r.produced = r.target;
      s.produced = r.target;
      finish(s);
    }
  }
}

/** Smallest k >= 1 with k*first + slope*k*(k-1)/2 >= gap. */
function stepsToReach(gap: number, first: number, slope: number): number {
  if (gap <= 0) return 1;
  const elapsed = (k: number): number => k * first + (slope * k * (k - 1)) / 2;
  let k = Math.max(1, Math.ceil(gap / (first + slope)));
  while (k > 1 && elapsed(k - 1) >= gap) k -= 1;
  while (elapsed(k) < gap) k = elapsed(2 * k) < gap ? 2 * k : k + 1;
  return k;
}

/** A min-heap of decoding sequences keyed by the step they finish after; stale entries skipped. */
class KeyHeap {
  private readonly keys: number[] = [];
  private readonly values: Seq[] = [];

  minKey(): number {
    this.dropStale();
    return this.keys[0] ?? Number.POSITIVE_INFINITY;
  }

  push(key: number, value: Seq): void {
    const keys = this.keys;
    const values = this.values;
    let i = keys.length;
    keys.push(key);
    values.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent] ?? 0;
      if (pk <= key) break;
      keys[i] = pk;
      values[i] = values[parent] as Seq;
      i = parent;
    }
    keys[i] = key;
    values[i] = value;
  }

  popAt(step: number): Seq | undefined {
    this.dropStale();
    if (this.values.length === 0 || (this.keys[0] ?? 0) > step) return undefined;
    return this.pop();
  }

  private dropStale(): void {
    for (;;) {
      const top = this.values[0];
      if (top === undefined) return;
      if (top.state === 'decode' && top.finishKey === this.keys[0]) return;
      this.pop();
    }
  }

  private pop(): Seq {
    const keys = this.keys;
    const values = this.values;
    const top = values[0] as Seq;
    const lastKey = keys.pop() ?? 0;
    const lastValue = values.pop() as Seq;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (keys[r] ?? 0) < (keys[l] ?? 0) ? r : l;
        if ((keys[c] ?? 0) >= lastKey) break;
        keys[i] = keys[c] ?? 0;
        values[i] = values[c] as Seq;
        i = c;
      }
      keys[i] = lastKey;
      values[i] = lastValue;
    }
    return top;
  }
}
