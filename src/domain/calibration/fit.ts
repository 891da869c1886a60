import { activeStart } from '../allocation.js';
import { hash53 } from '../hash.js';
import type { UsageRecord } from '../records.js';
import { PREFILL_ATTENTION_PER_CONTEXT_TOKEN, prefillWork } from '../weighting.js';

/**
 * Fits a deployment's step-cost constants from its own usage events (issue: an allocation that
 * calibrates itself). A vLLM step costs
 *
 *   step_ms = F + cp x prefill tokens in the step + sum over decoding sequences (cd + cx x context)
 *
 * A request that decodes m = completionTokens - 1 tokens takes part in exactly m steps, one token
 * each, so its decode time (first token to finish) is the sum of those m steps:
 *
 *   decode_ms = F x m + cp x P + cd x N + cx x X
 *
 * where, over its decode window, P is the prefill tokens (weighted for attention: prefillTokens)
 * of every request whose prefill overlaps it, N the decode steps of every decoding request (itself included) and X the context those steps
 * read. The events give each request's windows and token counts; each request's prefill tokens and
 * decode steps are spread evenly over its own windows. Every request of the deployment gives one
 * equation in the four unknowns (and two more numbers, its prefill tokens and window, that the fit's
 * trust rule checks the fitted prefill cost against: prefillBound), solved by least squares made robust by Huber reweighting (a few
 * requests slowed by something the model does not know, such as preemption, must not pull the fit).
 */
export interface StepConstants {
  readonly fixedMs: number;
  readonly prefillMsPerToken: number;
  readonly decodeMsPerToken: number;
  readonly decodeMsPerContextToken: number;
}

export interface CalibrationFit {
  readonly constants: StepConstants;
  /** Standard errors of the four constants, from the weighted residuals. */
  readonly standardErrors: StepConstants;
  /** Requests that gave an equation. */
  readonly requests: number;
  /** Root mean square residual of the decode times, in ms. */
  readonly residualMs: number;
}

const MS = 1000;

/** Columns of an equation row that decodeEquations makes: m, P, N, X, then prefill tokens and window. */
export const EQUATION_COLUMNS = 6;

/**
 * Equations packed row after row: row i is x[columns x i, columns x (i + 1)), its decode time y[i].
 * One array for all rows, not an object per row. keys[i] is the row's sampling key (sampleKey of its
 * request's eventId), by which a deployment with more requests than a fit needs keeps a sample that
 * does not depend on how its pods were split or in which order they came (calibrate.ts).
 */
export interface Equations {
  readonly columns: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly keys: Float64Array;
  /** Rows of the same requests that sampling has already left out (0 when none was). */
  readonly dropped: number;
}

/** A request's sampling key: the 53-bit hash of its eventId, even and deterministic. */
export function sampleKey(eventId: string): number {
  return hash53(eventId);
}

/** Rows without their sampling: what the fit itself reads. */
export type EquationRows = Pick<Equations, 'columns' | 'x' | 'y'>;

/** The number of rows of packed equations. */
export function rowsOf(equations: EquationRows): number {
  return equations.y.length;
}

/**
 * The key of the limit-th smallest row of these equations (Infinity when they have no more rows
 * than limit): sampling keeps the rows whose key is at most that.
 */
export function sampleThreshold(parts: readonly Equations[], limit: number): number {
  const total = parts.reduce((sum, p) => sum + rowsOf(p), 0);
  if (total <= limit) return Infinity;
  const all = new Float64Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p.keys, at);
    at += rowsOf(p);
  }
  all.sort();
  return all[limit - 1] as number;
}

/** The rows whose key is at most threshold, in their order; the others counted in dropped. */
export function keepUpTo(equations: Equations, threshold: number): Equations {
  const { columns, x, y, keys } = equations;
  const n = rowsOf(equations);
  let kept = 0;
  for (let i = 0; i < n; i += 1) if ((keys[i] as number) <= threshold) kept += 1;
  if (kept === n) return equations;
  const out = {
    columns,
    x: new Float64Array(kept * columns),
    y: new Float64Array(kept),
    keys: new Float64Array(kept),
    dropped: equations.dropped + n - kept,
  };
  let row = 0;
  for (let i = 0; i < n; i += 1) {
    if ((keys[i] as number) > threshold) continue;
    out.x.set(x.subarray(i * columns, (i + 1) * columns), row * columns);
    out.y[row] = y[i] as number;
    out.keys[row] = keys[i] as number;
    row += 1;
  }
  return out;
}

/**
 * A request's prefill tokens as the fit counts them: its uncached prompt (at least 1), each token
 * weighted for attention over the context before it (weighting.ts prefillWork), so that the fitted
 * prefill constant is the linear cost and the fitted weighting's attention term goes on top of it.
 */
function prefillTokens(r: UsageRecord): number {
  return prefillWork(
    Math.max(1, r.promptTokens - r.cachedPromptTokens),
    r.cachedPromptTokens,
    PREFILL_ATTENTION_PER_CONTEXT_TOKEN,
  );
}

/**
 * The equation (x0..x3, y) each eligible request of one pod gives; pods of one deployment are
 * fitted together. P, N and X are integrals over time of step functions and linear pieces (each
 * window adds its rate while it lasts), taken in one sweep over the sorted window ends: every
 * decode window starts and ends on a breakpoint, so its integrals are differences of prefix sums.
 * O(n log n) for a pod of n requests, however many run at once.
 */
export function decodeEquations(requests: readonly UsageRecord[]): Equations {
  if (requests.length === 0)
    return {
      columns: EQUATION_COLUMNS,
      x: new Float64Array(),
      y: new Float64Array(),
      keys: new Float64Array(),
      dropped: 0,
    };
  // Times in ms from the pod's first instant keep the squares of times small.
  let origin = Infinity;
  for (const r of requests) origin = Math.min(origin, activeStart(r));
  const n = requests.length;
  // Points: 4 per request (prefill start and end, decode start and end). Deltas per point:
  // prefill token rate (aP), an instant of prefill tokens (jP), decode step rate (aN), and the
  // context integrand c0 + c1 t (aX, bX).
  const time = new Float64Array(4 * n);
  const aP = new Float64Array(4 * n);
  const jP = new Float64Array(4 * n);
  const aN = new Float64Array(4 * n);
  const aX = new Float64Array(4 * n);
  const bX = new Float64Array(4 * n);
  const used = new Uint8Array(4 * n);
  const steps = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    const r = requests[i] as UsageRecord;
    if (r.status === 'error' && r.firstTokenAt === null) continue;
    const first = ((r.firstTokenAt ?? r.finishedAt) - origin) / MS;
    const start = (activeStart(r) - origin) / MS;
    const tokens = prefillTokens(r);
    const p = 4 * i;
    time[p] = start;
    time[p + 1] = first;
    used[p] = 1;
    used[p + 1] = 1;
    // Prefill tokens spread evenly over the prefill window; a zero-length one puts them at its instant.
    if (first > start) {
      aP[p] = tokens / (first - start);
      aP[p + 1] = -tokens / (first - start);
    } else {
      jP[p + 1] = tokens;
    }
    if (r.firstTokenAt === null || r.completionTokens < 2) continue;
    const end = (r.finishedAt - origin) / MS;
    if (end <= first) continue;
    const m = r.completionTokens - 1;
    const rate = m / (end - first); // decode steps per ms
    time[p + 2] = first;
    time[p + 3] = end;
    used[p + 2] = 1;
    used[p + 3] = 1;
    // A request whose stream stalled (stalls.ts) sat out steps of its decode window, and its
    // recompute is in it: its decode time is not the sum of its own steps, so it gives no equation
    // (its decode steps still count in the others'). Its recompute counted as prefill work of the
    // pod in the others' equations made the saturated day's calibrated allocation worse (0.27% to
    // 0.29%, docs/accounting.md#recompute-preemption): not done.
    if (r.stalls === undefined) steps[i] = m;
    aN[p + 2] = rate;
    aN[p + 3] = -rate;
    // Context read at t: prompt + steps done so far = prompt + rate (t - first).
    const c0 = rate * (r.promptTokens - rate * first);
    aX[p + 2] = c0;
    aX[p + 3] = -c0;
    bX[p + 2] = rate * rate;
    bX[p + 3] = -rate * rate;
  }
  const order = Uint32Array.from({ length: 4 * n }, (_, k) => k).filter((k) => used[k] === 1);
  order.sort((u, v) => (time[u] ?? 0) - (time[v] ?? 0));
  // Prefix integrals at each point (by point id), instants at a time included in its prefix.
  const atP = new Float64Array(4 * n);
  const atN = new Float64Array(4 * n);
  const atX = new Float64Array(4 * n);
  let sumP = 0;
  let sumN = 0;
  let sumX = 0;
  let rateP = 0;
  let rateN = 0;
  let rateX0 = 0;
  let rateX1 = 0;
  let last = order.length > 0 ? (time[order[0] ?? 0] ?? 0) : 0;
  for (let k = 0; k < order.length;) {
    const t = time[order[k] ?? 0] ?? 0;
    sumP += rateP * (t - last);
    sumN += rateN * (t - last);
    sumX += rateX0 * (t - last) + (rateX1 * (t * t - last * last)) / 2;
    last = t;
    const group = k;
    for (; k < order.length && time[order[k] ?? 0] === t; k += 1) {
      const q = order[k] ?? 0;
      rateP += aP[q] ?? 0;
      rateN += aN[q] ?? 0;
      rateX0 += aX[q] ?? 0;
      rateX1 += bX[q] ?? 0;
      sumP += jP[q] ?? 0;
    }
    for (let g = group; g < k; g += 1) {
      const q = order[g] ?? 0;
      atP[q] = sumP;
      atN[q] = sumN;
      atX[q] = sumX;
    }
  }
  let rows = 0;
  for (let i = 0; i < n; i += 1) if ((steps[i] ?? 0) > 0) rows += 1;
  const x = new Float64Array(rows * EQUATION_COLUMNS);
  const y = new Float64Array(rows);
  const keys = new Float64Array(rows);
  let row = 0;
  for (let i = 0; i < n; i += 1) {
    const m = steps[i] ?? 0;
    if (m === 0) continue;
    const s = 4 * i + 2;
    const e = 4 * i + 3;
    const r = requests[i] as UsageRecord;
    const o = row * EQUATION_COLUMNS;
    x[o] = m;
    x[o + 1] = (atP[e] ?? 0) - (atP[s] ?? 0);
    x[o + 2] = (atN[e] ?? 0) - (atN[s] ?? 0);
    x[o + 3] = (atX[e] ?? 0) - (atX[s] ?? 0);
    // Not fitted: the request's own prefill tokens and its prefill window (prefillBound).
    x[o + 4] = prefillTokens(r);
    x[o + 5] = (time[4 * i + 1] ?? 0) - (time[4 * i] ?? 0);
    y[row] = (time[e] ?? 0) - (time[s] ?? 0);
    keys[row] = sampleKey(r.eventId);
    row += 1;
  }
  return { columns: EQUATION_COLUMNS, x, y, keys, dropped: 0 };
}

/**
 * The share of equations whose request's prefill window is shorter than its own prefill work at
 * `prefillMsPerToken`: the window holds every step that computed one of its chunks, each at least
 * as long as the chunk's own work, so at the engine's true constant no request breaks the bound.
 * Columns 4 and 5 of each row (decodeEquations) are the request's uncached prompt tokens and its
 * prefill window in ms; equations narrower than that have none, and give 0.
 */
export function prefillBound(equations: EquationRows, prefillMsPerToken: number): number {
  const { columns, x } = equations;
  const n = rowsOf(equations);
  if (columns < EQUATION_COLUMNS || n === 0) return 0;
  let broken = 0;
  for (let i = 0; i < n; i += 1) {
    const o = i * columns;
    if ((x[o + 5] as number) < prefillMsPerToken * (x[o + 4] as number)) broken += 1;
  }
  return broken / n;
}

/**
 * The decode time per step of the requests with the shortest, at this quantile (0.01: the 1st
 * percentile): each request's decode window over its decode steps, y / x0. Every step lasts at
 * least the fixed step time, and a day's quietest steps carry little else, so at the engine's
 * constants the fixed step is at most this and close to it (calibrate.ts, MIN_FIXED_OF_QUIET_STEP).
 * NaN without rows.
 */
export function quietStepMs(equations: EquationRows, quantile = 0.01): number {
  const { columns, x, y } = equations;
  const n = rowsOf(equations);
  if (n === 0) return NaN;
  if (!(quantile >= 0 && quantile <= 1)) throw new RangeError(`quantile ${quantile} is not in [0, 1]`);
  const perStep = new Float64Array(n);
  for (let i = 0; i < n; i += 1) perStep[i] = (y[i] as number) / (x[i * columns] as number);
  perStep.sort();
  return perStep[Math.floor(quantile * (n - 1))] as number;
}

/** Robust least squares (Huber, 6 reweighting rounds) of y on the first four columns of x. */
export function fitConstants(
  equations: EquationRows,
  /** Columns held at 0 (a constant that came out negative); they are left out of the solve. */
  held: ReadonlySet<number> = new Set(),
): CalibrationFit | undefined {
  const { columns, x, y } = equations;
  const n = rowsOf(equations);
  if (n < 8) return undefined;
  if (columns < 4) throw new RangeError(`equations of ${columns} columns, fewer than the 4 unknowns`);
  // Columns have very different scales (steps, tokens, context tokens): solve on scaled columns.
  const scale = [0, 1, 2, 3].map((j) => {
    let sum = 0;
    for (let i = 0; i < n; i += 1) sum += (x[i * columns + j] as number) ** 2;
    return Math.sqrt(sum / n) || 1;
  });
  // Scaled rows in four columns: the six reweighting rounds are tight loops over them.
  const z = new Float64Array(4 * n);
  for (let i = 0; i < n; i += 1)
    for (let j = 0; j < 4; j += 1)
      z[4 * i + j] = held.has(j) ? 0 : (x[i * columns + j] as number) / (scale[j] ?? 1);
  let weights = new Float64Array(n).fill(1);
  let beta: number[] | undefined;
  const residuals = new Float64Array(n);
  const magnitudes = new Float64Array(n);
  for (let round = 0; round < 6; round += 1) {
    const ata = Array.from({ length: 4 }, () => new Float64Array(4));
    const aty = new Float64Array(4);
    let s00 = 0,
      s01 = 0,
      s02 = 0,
      s03 = 0,
      s11 = 0,
      s12 = 0,
      s13 = 0,
      s22 = 0,
      s23 = 0,
      s33 = 0;
    let t0 = 0,
      t1 = 0,
      t2 = 0,
      t3 = 0;
    for (let i = 0; i < n; i += 1) {
      const w = weights[i] as number;
      const o = 4 * i;
      const z0 = z[o] as number,
        z1 = z[o + 1] as number,
        z2 = z[o + 2] as number,
        z3 = z[o + 3] as number;
      const wy = w * (y[i] as number);
      s00 += w * z0 * z0;
      s01 += w * z0 * z1;
      s02 += w * z0 * z2;
      s03 += w * z0 * z3;
      s11 += w * z1 * z1;
      s12 += w * z1 * z2;
      s13 += w * z1 * z3;
      s22 += w * z2 * z2;
      s23 += w * z2 * z3;
      s33 += w * z3 * z3;
      t0 += wy * z0;
      t1 += wy * z1;
      t2 += wy * z2;
      t3 += wy * z3;
    }
    ata[0]?.set([s00, s01, s02, s03]);
    ata[1]?.set([s01, s11, s12, s13]);
    ata[2]?.set([s02, s12, s22, s23]);
    ata[3]?.set([s03, s13, s23, s33]);
    aty.set([t0, t1, t2, t3]);
    for (const j of held) {
      for (let k = 0; k < 4; k += 1) {
        (ata[j] as Float64Array)[k] = j === k ? 1 : 0;
        (ata[k] as Float64Array)[j] = j === k ? 1 : 0;
      }
      aty[j] = 0;
    }
    const solved = solve(ata, aty);
    if (solved === undefined) return undefined;
    const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = solved;
    beta = solved.map((b, j) => b / (scale[j] ?? 1));
    for (let i = 0; i < n; i += 1) {
      const o = 4 * i;
      const r =
        (y[i] as number) -
        ((z[o] as number) * b0 +
          (z[o + 1] as number) * b1 +
          (z[o + 2] as number) * b2 +
          (z[o + 3] as number) * b3);
      residuals[i] = r;
      magnitudes[i] = Math.abs(r);
    }
    const mad = (magnitudes.slice().sort()[Math.floor(n / 2)] ?? 0) / 0.6745 || 1e-9;
    const k = 1.345 * mad;
    weights = Float64Array.from(magnitudes, (r) => (r <= k ? 1 : k / r));
  }
  if (beta === undefined) return undefined;
  const errors = standardErrors(z, residuals, weights, scale, held);
  const [fixedMs = 0, prefillMsPerToken = 0, decodeMsPerToken = 0, decodeMsPerContextToken = 0] = beta;
  return {
    constants: { fixedMs, prefillMsPerToken, decodeMsPerToken, decodeMsPerContextToken },
    standardErrors: errors,
    requests: n,
    residualMs: Math.sqrt(residuals.reduce((s, r) => s + r * r, 0) / n),
  };
}

function standardErrors(
  /** The scaled rows, four columns each (a held column is 0). */
  z: Float64Array,
  residuals: Float64Array,
  weights: Float64Array,
  scale: readonly number[],
  held: ReadonlySet<number>,
): StepConstants {
  const n = residuals.length;
  const ata = Array.from({ length: 4 }, () => new Float64Array(4));
  let rss = 0;
  for (let i = 0; i < n; i += 1) {
    const w = weights[i] ?? 0;
    rss += w * (residuals[i] ?? 0) ** 2;
    for (let j = 0; j < 4; j += 1) {
      const line = ata[j] as Float64Array;
      const zj = w * (z[4 * i + j] as number);
      for (let k = 0; k < 4; k += 1) line[k] = (line[k] as number) + zj * (z[4 * i + k] as number);
    }
  }
  // A held column is not estimated: its row and column leave the system, and its error is 0.
  for (const j of held) {
    for (let k = 0; k < 4; k += 1) {
      (ata[j] as Float64Array)[k] = j === k ? 1 : 0;
      (ata[k] as Float64Array)[j] = j === k ? 1 : 0;
    }
  }
  const sigma2 = rss / Math.max(1, n - 4 + held.size);
  const variance = [0, 1, 2, 3].map((j) => {
    if (held.has(j)) return 0;
    const unit = new Float64Array(4);
    unit[j] = 1;
    const column = solve(ata, unit);
    return column === undefined ? Infinity : ((column[j] ?? 0) * sigma2) / (scale[j] ?? 1) ** 2;
  });
  const [a = 0, b = 0, c = 0, d = 0] = variance.map((v) => Math.sqrt(Math.max(0, v)));
  return { fixedMs: a, prefillMsPerToken: b, decodeMsPerToken: c, decodeMsPerContextToken: d };
}

/** Gaussian elimination with partial pivoting on a copy; undefined when singular. */
export function solve(matrix: readonly Float64Array[], vector: Float64Array): number[] | undefined {
  const size = vector.length;
  const a = matrix.map((row, i) => [...row, vector[i] ?? 0]);
  for (let col = 0; col < size; col += 1) {
    let pivot = col;
    for (let r = col + 1; r < size; r += 1)
      if (Math.abs(a[r]?.[col] ?? 0) > Math.abs(a[pivot]?.[col] ?? 0)) pivot = r;
    if (Math.abs(a[pivot]?.[col] ?? 0) < 1e-12) return undefined;
    [a[col], a[pivot]] = [a[pivot] ?? [], a[col] ?? []];
    const p = a[col] ?? [];
    for (let r = 0; r < size; r += 1) {
      if (r === col) continue;
      const row = a[r] ?? [];
      const factor = (row[col] ?? 0) / (p[col] ?? 1);
      for (let c = col; c <= size; c += 1) row[c] = (row[c] ?? 0) - factor * (p[c] ?? 0);
    }
  }
  return Array.from({ length: size }, (_, i) => (a[i]?.[size] ?? 0) / (a[i]?.[i] ?? 1));
}
