import { activeStart } from '../allocation.js';
import type { UsageRecord } from '../records.js';

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
 * where, over its decode window, P is the prefill tokens of every request whose prefill overlaps
 * it, N the decode steps of every decoding request (itself included) and X the context those steps
 * read. The events give each request's windows and token counts; each request's prefill tokens and
 * decode steps are spread evenly over its own windows. Every request of the deployment gives one
 * equation in the four unknowns, solved by least squares made robust by Huber reweighting (a few
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

interface Window {
  readonly start: number;
  readonly end: number;
  readonly request: number;
}

const MS = 1000;

/** The equation (x0..x3, y) each eligible request gives, per pod; pods of one deployment are fitted together. */
export function decodeEquations(requests: readonly UsageRecord[]): { x: Float64Array[]; y: Float64Array } {
  const prefills: Window[] = [];
  const decodes: Window[] = [];
  requests.forEach((r, i) => {
    if (r.status === 'error' && r.firstTokenAt === null) return;
    const first = r.firstTokenAt ?? r.finishedAt;
    prefills.push({ start: activeStart(r), end: first, request: i });
    if (r.firstTokenAt !== null && r.completionTokens >= 2)
      decodes.push({ start: first, end: r.finishedAt, request: i });
  });
  const rows = new Map<number, Float64Array>(); // request -> [m, P, N, X]
  for (const d of decodes) {
    const r = requests[d.request] as UsageRecord;
    rows.set(d.request, Float64Array.of(r.completionTokens - 1, 0, 0, 0));
  }
  // Every decode window against every overlapping prefill and decode window, by a sweep on starts.
  const all = [
    ...prefills.map((w) => ({ ...w, decode: false })),
    ...decodes.map((w) => ({ ...w, decode: true })),
  ].sort((a, b) => a.start - b.start || Number(a.decode) - Number(b.decode));
  let active: (Window & { decode: boolean })[] = [];
  for (const w of all) {
    active = active.filter((a) => a.end > w.start || (a.end === a.start && a.end === w.start));
    for (const a of active) {
      if (w.decode) add(rows, requests, w, a);
      if (a.decode) add(rows, requests, a, w);
    }
    active.push(w);
    if (w.decode) add(rows, requests, w, w);
  }
  const x: Float64Array[] = [];
  const ys: number[] = [];
  for (const d of decodes) {
    const row = rows.get(d.request);
    if (row === undefined) continue;
    x.push(row);
    ys.push((d.end - d.start) / MS);
  }
  return { x, y: Float64Array.from(ys) };
}

/** Adds to decode window `d`'s row what window `o` puts inside it. */
function add(
  rows: Map<number, Float64Array>,
  requests: readonly UsageRecord[],
  d: Window,
  o: Window & { decode: boolean },
): void {
  const row = rows.get(d.request);
  if (row === undefined) return;
  const from = Math.max(d.start, o.start);
  const to = Math.min(d.end, o.end);
  const r = requests[o.request] as UsageRecord;
  const length = o.end - o.start;
  if (!o.decode) {
    const tokens = Math.max(1, r.promptTokens - r.cachedPromptTokens);
    if (length <= 0) {
      if (o.end > d.start && o.end <= d.end) row[1] = (row[1] ?? 0) + tokens;
      return;
    }
    if (to > from) row[1] = (row[1] ?? 0) + (tokens * (to - from)) / length;
    return;
  }
  if (to <= from || length <= 0) return;
  const m = r.completionTokens - 1;
  const a = (from - o.start) / length;
  const b = (to - o.start) / length;
  // Steps k in (a m, b m]; step k reads a context of prompt + k tokens.
  row[2] = (row[2] ?? 0) + (b - a) * m;
  row[3] = (row[3] ?? 0) + (b - a) * m * r.promptTokens + (m * m * (b * b - a * a)) / 2;
}

/** Robust least squares (Huber, 6 reweighting rounds) of y on the four columns of x. */
export function fitConstants(
  x: readonly Float64Array[],
  y: Float64Array,
  /** Columns held at 0 (a constant that came out negative); they are left out of the solve. */
  held: ReadonlySet<number> = new Set(),
): CalibrationFit | undefined {
  const n = x.length;
  if (n < 8) return undefined;
  // Columns have very different scales (steps, tokens, context tokens): solve on scaled columns.
  const scale = [0, 1, 2, 3].map((j) => Math.sqrt(x.reduce((s, row) => s + (row[j] ?? 0) ** 2, 0) / n) || 1);
  let weights = new Float64Array(n).fill(1);
  let beta: number[] | undefined;
  let residuals = new Float64Array(n);
  for (let round = 0; round < 6; round += 1) {
    const ata = Array.from({ length: 4 }, () => new Float64Array(4));
    const aty = new Float64Array(4);
    for (let i = 0; i < n; i += 1) {
      const row = x[i] as Float64Array;
      const w = weights[i] ?? 0;
      for (let j = 0; j < 4; j += 1) {
        const xj = (row[j] ?? 0) / (scale[j] ?? 1);
        aty[j] = (aty[j] ?? 0) + w * xj * (y[i] ?? 0);
        const line = ata[j] as Float64Array;
        for (let k = 0; k < 4; k += 1) line[k] = (line[k] ?? 0) + w * xj * ((row[k] ?? 0) / (scale[k] ?? 1));
      }
    }
    for (const j of held) {
      for (let k = 0; k < 4; k += 1) {
        (ata[j] as Float64Array)[k] = j === k ? 1 : 0;
        (ata[k] as Float64Array)[j] = j === k ? 1 : 0;
      }
      aty[j] = 0;
    }
    const solved = solve(ata, aty);
    if (solved === undefined) return undefined;
    beta = solved.map((b, j) => b / (scale[j] ?? 1));
    residuals = Float64Array.from(x, (row, i) => (y[i] ?? 0) - dot(row, beta ?? []));
    const sorted = Float64Array.from(residuals, Math.abs).sort();
    const mad = (sorted[Math.floor(n / 2)] ?? 0) / 0.6745 || 1e-9;
    const k = 1.345 * mad;
    weights = Float64Array.from(residuals, (r) => (Math.abs(r) <= k ? 1 : k / Math.abs(r)));
  }
  if (beta === undefined) return undefined;
  const errors = standardErrors(x, residuals, weights, scale, held);
  const [fixedMs = 0, prefillMsPerToken = 0, decodeMsPerToken = 0, decodeMsPerContextToken = 0] = beta;
  return {
    constants: { fixedMs, prefillMsPerToken, decodeMsPerToken, decodeMsPerContextToken },
    standardErrors: errors,
    requests: n,
    residualMs: Math.sqrt(residuals.reduce((s, r) => s + r * r, 0) / n),
  };
}

function dot(row: Float64Array, beta: readonly number[]): number {
  let sum = 0;
  for (let j = 0; j < 4; j += 1) sum += (row[j] ?? 0) * (beta[j] ?? 0);
  return sum;
}

function standardErrors(
  x: readonly Float64Array[],
  residuals: Float64Array,
  weights: Float64Array,
  scale: readonly number[],
  held: ReadonlySet<number>,
): StepConstants {
  const n = x.length;
  const ata = Array.from({ length: 4 }, () => new Float64Array(4));
  let rss = 0;
  for (let i = 0; i < n; i += 1) {
    const row = x[i] as Float64Array;
    const w = weights[i] ?? 0;
    rss += w * (residuals[i] ?? 0) ** 2;
    for (let j = 0; j < 4; j += 1) {
      const line = ata[j] as Float64Array;
      for (let k = 0; k < 4; k += 1)
        line[k] = (line[k] ?? 0) + (w * (row[j] ?? 0) * (row[k] ?? 0)) / ((scale[j] ?? 1) * (scale[k] ?? 1));
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
function solve(matrix: readonly Float64Array[], vector: Float64Array): number[] | undefined {
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
