/**
 * A vLLM-style continuous-batching engine, simulated step by step with the measured step-cost
 * model (docs/accounting.md) moved to an A100 (memory-bound terms x 3.35/2.0 TB/s, compute-bound
 * prefill x 990/312 TFLOP/s):
 *
 *   step_ms = 14.07 + 0.0879 x prefill tokens + sum over decoding sequences (0.0154 + 0.0000714 x context)
 *
 * Each step decodes one token for every running sequence and spends the rest of the token budget
 * on prefill (chunked prefill, oldest first), admitting waiting requests while seats are free.
 *
 * The engine knows who caused each step's GPU time, which is the truth the allocation is measured
 * against: the fixed part of a step is shared equally by the sequences in it; prefill tokens and
 * the marginal decode cost belong to their own sequence.
 *
 * Stretches of pure decoding (nothing to admit, nothing in prefill) are jumped in closed form to the
 * next arrival or finish, and per-sequence sums are kept as running totals, so a day of a million
 * requests takes seconds, not the hours a step loop over every sequence would.
 */
import type { EngineConfig, EngineRequest } from './engine-types.js';
import { runVllmLike } from './vllm-like.js';

export type { EngineConfig, EngineRequest, StepCosts, StepSpan, VllmLikeCosts } from './engine-types.js';

const A100_MEMORY = 3.35 / 2.0;
const A100_COMPUTE = 990 / 312;

export const STEP_MS = {
  base: 8.4 * A100_MEMORY,
  prefillPerToken: 0.0277 * A100_COMPUTE,
  decodePerToken: 0.0092 * A100_MEMORY,
  perContextToken: 0.0000426 * A100_MEMORY,
} as const;

interface Sequence {
  readonly request: EngineRequest;
  prefillLeft: number;
  chunk: number;
  readonly joinShare: number;
  excludedShare: number;
}

/** Runs the engine over arrivals sorted by time and yields each request when it ends. */
export function* runEngine(
  config: EngineConfig,
  arrivals: readonly EngineRequest[],
): Generator<EngineRequest> {
  if (config.vllmLike !== undefined) {
    yield* runVllmLike(config, config.vllmLike, arrivals);
    return;
  }
  const f = config.stepFactor;
  const costs = config.costs ?? STEP_MS;
  const base = costs.base * f;
  const prefill = costs.prefillPerToken * f;
  const decode = costs.decodePerToken * f;
  const context = costs.perContextToken * f;
  const observe = config.onSteps;

  let now = 0;
  let step = 0;
  let share = 0; // running sum over steps of (fixed part / sequences in the step)
  let decoding = 0;
  let contextSum = 0; // context tokens read by the next decode step, over all decoding sequences
  let prefilling: Sequence[] = [];
  const waiting: EngineRequest[] = [];
  let head = 0;
  let next = 0;
  const finishing = new StepHeap();
  const done: EngineRequest[] = [];

  const finish = (s: Sequence): void => {
    const r = s.request;
    const m = Math.max(0, r.produced - 1); // decode steps after the prefill step made token 1
    r.finishedAt = now;
    r.gpuMs =
      share -
      s.joinShare -
      s.excludedShare +
      prefill * Math.max(1, r.promptTokens - r.cachedPromptTokens) +
      m * decode +
      context * (m * (r.promptTokens + 1) + (m * (m - 1)) / 2);
    done.push(r);
  };

  for (;;) {
    for (let a = arrivals[next]; a !== undefined && a.arrival <= now; a = arrivals[++next]) {
      if (a.refused) {
        a.finishedAt = a.arrival + 2;
        done.push(a);
      } else {
        waiting.push(a);
      }
    }
    if (done.length > 0) {
      yield* done;
      done.length = 0;
    }
    const running = decoding + prefilling.length;
    const queued = waiting.length - head;
    if (running === 0 && queued === 0) {
      const a = arrivals[next];
      if (a === undefined) return;
      now = Math.max(now, a.arrival);
      continue;
    }
    if (prefilling.length === 0 && (queued === 0 || running >= config.maxSeqs)) {
      // Pure decode: jump k steps at once. Step j lasts first + slope*j, as every context grows by 1.
      const first = base + decoding * decode + context * contextSum;
      const slope = context * decoding;
      let k = config.stepwise === true ? 1 : finishing.minKey() - step;
      const a = arrivals[next];
      if (k > 1 && running < config.maxSeqs && a !== undefined)
        k = Math.min(k, stepsToReach(a.arrival - now, first, slope));
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
      now += k * first + (slope * k * (k - 1)) / 2;
      share += (k * base) / decoding;
      contextSum += k * decoding;
      step += k;
    } else {
      let budget = config.tokenBudget - decoding;
      let prefillTokens = 0;
      let inStep = decoding;
      for (const s of prefilling) {
        s.chunk = Math.min(s.prefillLeft, budget);
        budget -= s.chunk;
        prefillTokens += s.chunk;
        if (s.chunk > 0) inStep += 1;
      }
      while (budget > 0 && head < waiting.length && decoding + prefilling.length < config.maxSeqs) {
        const r = waiting[head++];
        if (r === undefined) break;
        r.scheduledAt = now;
        // vLLM recomputes at least the last prompt token even on a full prefix-cache hit.
        const left = Math.max(1, r.promptTokens - r.cachedPromptTokens);
        const s: Sequence = {
          request: r,
          prefillLeft: left,
          chunk: Math.min(left, budget),
          joinShare: share,
          excludedShare: 0,
        };
        budget -= s.chunk;
        prefillTokens += s.chunk;
        inStep += 1;
        prefilling.push(s);
      }
      const fixed = base / inStep;
      share += fixed;
      const started = now;
      const stepMs = base + prefill * prefillTokens + decode * decoding + context * contextSum;
      const decoded = decoding;
      now += stepMs;
      step += 1;
      contextSum += decoding;
      let prompted = 0;
      let firstTokens = 0;
      const still: Sequence[] = [];
      for (const s of prefilling) {
        if (s.chunk === 0) s.excludedShare += fixed;
        s.prefillLeft -= s.chunk;
        if (s.prefillLeft > 0) {
          still.push(s);
          continue;
        }
        const r = s.request;
        prompted += r.promptTokens;
        if (r.target > 0) firstTokens += 1;
        if (r.target === 0) {
          finish(s); // failed or abandoned before its first token
        } else {
          r.firstTokenAt = now;
          r.produced = 1;
          if (r.target === 1) {
            finish(s);
          } else {
            decoding += 1;
            contextSum += r.promptTokens + 1;
            finishing.push(step + r.target - 1, s);
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
    for (let s = finishing.popAt(step); s !== undefined; s = finishing.popAt(step)) {
      const r = s.request;
      decoding -= 1;
      contextSum -= r.promptTokens + r.target;
      r.produced = r.target;
      finish(s);
    }
  }
}

/** Smallest k >= 1 with k*first + slope*k*(k-1)/2 >= gap: the step during which `gap` ms elapse. */
function stepsToReach(gap: number, first: number, slope: number): number {
  if (gap <= 0) return 1;
  const elapsed = (k: number): number => k * first + (slope * k * (k - 1)) / 2;
  let k =
    slope > 0
      ? Math.ceil((-(first - slope / 2) + Math.sqrt((first - slope / 2) ** 2 + 2 * slope * gap)) / slope)
      : Math.ceil(gap / first);
  k = Math.max(1, k);
  while (k > 1 && elapsed(k - 1) >= gap) k -= 1;
  while (elapsed(k) < gap) k += 1;
  return k;
}

/** A binary min-heap of sequences keyed by the step after which they finish. */
class StepHeap {
  private readonly keys: number[] = [];
  private readonly values: Sequence[] = [];

  minKey(): number {
    return this.keys[0] ?? Number.POSITIVE_INFINITY;
  }

  push(key: number, value: Sequence): void {
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
      values[i] = values[parent] as Sequence;
      i = parent;
    }
    keys[i] = key;
    values[i] = value;
  }

  /** Removes and returns a sequence finishing at or before `step`, if any. */
  popAt(step: number): Sequence | undefined {
    const keys = this.keys;
    const values = this.values;
    const top = values[0];
    if (top === undefined || (keys[0] ?? 0) > step) return undefined;
    const lastKey = keys.pop() ?? 0;
    const lastValue = values.pop() as Sequence;
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
        values[i] = values[c] as Sequence;
        i = c;
      }
      keys[i] = lastKey;
      values[i] = lastValue;
    }
    return top;
  }
}
