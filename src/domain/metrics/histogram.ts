import type { Histogram, HistogramName } from './metrics.js';

/**
 * Fixed-bin histograms (contracts.md §8). Edges grow by a quarter octave (x 2^0.25, about 19%), rounded to
 * integers, after a run of small integers: fine enough that a percentile read from summed days is
 * within one bin (about 19%) of the exact one, coarse enough that a group's five histograms stay
 * well under a kilobyte. Changing these edges changes METRICS_SCHEMA_VERSION.
 */
function quarterOctaveEdges(max: number): readonly number[] {
  const edges = [0];
  for (let k = 0; ; k += 1) {
    const edge = Math.round(2 ** (k / 4));
    if (edge > max) break;
    if (edge > (edges.at(-1) ?? 0)) edges.push(edge);
  }
  return Object.freeze(edges);
}

/** Tokens up to 2^21 (twice the largest context window the plausibility rule allows). */
const TOKEN_EDGES = quarterOctaveEdges(2 ** 21);
/** Milliseconds up to 2^23 (about 2.3 hours). */
const MS_EDGES = quarterOctaveEdges(2 ** 23);

export const BIN_EDGES: Readonly<Record<HistogramName, readonly number[]>> = Object.freeze({
  promptTokens: TOKEN_EDGES,
  completionTokens: TOKEN_EDGES,
  latencyMs: MS_EDGES,
  ttftMs: MS_EDGES,
  queueMs: MS_EDGES,
});

/** The bin of `value` (negative and NaN values go to bin 0; the last bin is open-ended). */
export function binIndex(edges: readonly number[], value: number): number {
  if (!(value > 0)) return 0;
  let lo = 0;
  let hi = edges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((edges[mid] ?? Infinity) <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Most values (tokens, milliseconds to a first token) are below a few thousand, where a table by
// integer part finds the bin without a search: with integer edges, edge <= v exactly when
// edge <= floor(v). The daily run adds five values per request, so this is on its hot path.
const TABLE_SIZE = 4096;
const tables = new WeakMap<readonly number[], Uint8Array | null>();

/** The bin of each integer below TABLE_SIZE, or null for edges the table cannot serve. */
function tableOf(edges: readonly number[]): Uint8Array | null {
  let table = tables.get(edges);
  if (table !== undefined) return table;
  table = null;
  if (edges.length <= 256 && edges.every((edge) => Number.isInteger(edge))) {
    table = new Uint8Array(TABLE_SIZE);
    for (let v = 1; v < TABLE_SIZE; v += 1) table[v] = binIndex(edges, v);
  }
  tables.set(edges, table);
  return table;
}

/** A histogram builder: counts per bin, trailing zero bins trimmed when read. */
export class HistogramBuilder {
  private readonly counts: number[];
  private readonly table: Uint8Array | null;

  constructor(private readonly edges: readonly number[]) {
    this.counts = new Array<number>(edges.length).fill(0);
    this.table = tableOf(edges);
  }

  add(value: number, count = 1): void {
    const i =
      this.table !== null && value >= 0 && value < TABLE_SIZE
        ? (this.table[Math.floor(value)] ?? 0)
        : binIndex(this.edges, value);
    this.counts[i] = (this.counts[i] ?? 0) + count;
  }

  histogram(): Histogram {
    let end = this.counts.length;
    while (end > 0 && this.counts[end - 1] === 0) end -= 1;
    return this.counts.slice(0, end);
  }
}

/** Bin-by-bin sum, for any number of days or groups. */
export function addHistograms(histograms: readonly Histogram[]): Histogram {
  const sum = new Array<number>(Math.max(0, ...histograms.map((h) => h.length))).fill(0);
  for (const h of histograms) h.forEach((count, i) => (sum[i] = (sum[i] ?? 0) + count));
  return sum;
}

export function histogramTotal(histogram: Histogram): number {
  return histogram.reduce((a, b) => a + b, 0);
}

/**
 * The q-quantile (0 < q <= 1) by nearest rank, as the bin that holds it: `lower` <= exact value
 * < `upper` (upper is Infinity for the last bin). Undefined for an empty histogram.
 */
export function quantileBin(
  edges: readonly number[],
  histogram: Histogram,
  q: number,
): { readonly index: number; readonly lower: number; readonly upper: number } | undefined {
  const total = histogramTotal(histogram);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < histogram.length; i += 1) {
    seen += histogram[i] ?? 0;
    if (seen >= rank) return { index: i, lower: edges[i] ?? 0, upper: edges[i + 1] ?? Infinity };
  }
  return undefined;
}

/**
 * A single figure for the q-quantile: the upper edge of its bin (the value is below it), or the
 * lower edge for the open last bin. Conservative for latency SLAs: never below the truth by more
 * than one bin, never above the bin.
 */
export function quantile(edges: readonly number[], histogram: Histogram, q: number): number | undefined {
  const bin = quantileBin(edges, histogram, q);
  if (bin === undefined) return undefined;
  return Number.isFinite(bin.upper) ? bin.upper : bin.lower;
}
