import { PermanentError } from '../errors.js';

/** The JSON form of LatencyCounts: the distinct milliseconds, increasing, and how often each occurs. */
export interface LatencyCountsJson {
  readonly ms: readonly number[];
  readonly counts: readonly number[];
}

/**
 * The end-to-end latencies of a set of requests in whole milliseconds, as a count per distinct
 * value: exact for the CSV's percentiles (contracts.md §5), its size bounded by the distinct milliseconds
 * rather than the requests, and the counts of disjoint sets add up (partition by partition, unit
 * by unit). Immutable; built by LatencyCountsBuilder or `merge`.
 *
 * Stored as two arrays of equal length: `ms`, strictly increasing, and `counts`, each >= 1. Both
 * are Float64Array so that any safe integer (a latency of years, a count of billions) is exact:
 * 16 bytes per distinct millisecond, whatever the number of requests.
 */
export class LatencyCounts {
  /** The counts of no request. */
  static readonly EMPTY = new LatencyCounts(new Float64Array(0), new Float64Array(0), 0);

  private constructor(
    private readonly ms: Float64Array,
    private readonly counts: Float64Array,
    /** How many latencies are counted: the sum of `counts`. */
    readonly size: number,
  ) {}

  /**
   * The counts of a map from whole milliseconds to how many latencies had them (each a safe
   * integer, counts >= 1); RangeError otherwise.
   */
  static fromCounts(byMs: ReadonlyMap<number, number>): LatencyCounts {
    if (byMs.size === 0) return LatencyCounts.EMPTY;
    const ms = Float64Array.from(byMs.keys()).sort();
    const counts = new Float64Array(ms.length);
    let size = 0;
    for (let i = 0; i < ms.length; i += 1) {
      const m = ms[i] ?? 0;
      const n = byMs.get(m) ?? 0;
      if (!Number.isSafeInteger(m)) throw new RangeError(`latency ${m} ms is not a whole millisecond`);
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`count ${n} of ${m} ms is not >= 1`);
      counts[i] = n;
      size += n;
    }
    if (!Number.isSafeInteger(size)) throw new RangeError('the counts add up to more than a safe integer');
    return new LatencyCounts(ms, counts, size);
  }

  /** The counts of the union of disjoint sets of requests. */
  static merge(parts: readonly LatencyCounts[]): LatencyCounts {
    const nonEmpty = parts.filter((part) => part.size > 0);
    if (nonEmpty.length <= 1) return nonEmpty[0] ?? LatencyCounts.EMPTY;
    const byMs = new Map<number, number>();
    for (const part of nonEmpty) {
      for (let i = 0; i < part.ms.length; i += 1) {
        const m = part.ms[i] ?? 0;
        byMs.set(m, (byMs.get(m) ?? 0) + (part.counts[i] ?? 0));
      }
    }
    return LatencyCounts.fromCounts(byMs);
  }

  /**
   * Reads the JSON form back, refusing anything `toJSON` could not have written: arrays of equal
   * length, `ms` strictly increasing safe integers, `counts` safe integers >= 1 whose sum is safe.
   * Throws PermanentError naming `field` and the problem.
   */
  static fromJSON(value: unknown, field = 'latencies'): LatencyCounts {
    const refuse = (problem: string): never => {
      throw new PermanentError(`${field}${problem}`);
    };
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return refuse(' must be an object { ms, counts }');
    const keys = Object.keys(value);
    const extra = keys.find((key) => key !== 'ms' && key !== 'counts');
    if (extra !== undefined) refuse(` has an unexpected field ${JSON.stringify(extra)}`);
    const { ms, counts } = value as { ms?: unknown; counts?: unknown };
    if (!Array.isArray(ms)) return refuse('.ms must be an array');
    if (!Array.isArray(counts)) return refuse('.counts must be an array');
    if (ms.length !== counts.length)
      refuse(`.counts has ${counts.length} entries for ${ms.length} milliseconds`);
    const msArray = new Float64Array(ms.length);
    const countArray = new Float64Array(ms.length);
    let size = 0;
    for (let i = 0; i < ms.length; i += 1) {
      const m: unknown = ms[i];
      const n: unknown = counts[i];
      if (typeof m !== 'number' || !Number.isSafeInteger(m)) refuse(`.ms[${i}] must be a safe integer`);
      if (i > 0 && !((m as number) > (msArray[i - 1] ?? 0))) refuse(`.ms[${i}] must be above .ms[${i - 1}]`);
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
        refuse(`.counts[${i}] must be an integer >= 1`);
      msArray[i] = m as number;
      countArray[i] = n as number;
      size += n as number;
    }
    if (!Number.isSafeInteger(size)) refuse('.counts add up to more than a safe integer');
    return size === 0 ? LatencyCounts.EMPTY : new LatencyCounts(msArray, countArray, size);
  }

  /** How many distinct milliseconds occur: the length of the stored arrays. */
  get distinct(): number {
    return this.ms.length;
  }

  /**
   * The nearest-rank p-th percentile (0 <= p <= 100) in whole milliseconds; undefined when nothing
   * is counted. Exactly what rounding the nearest-rank element of the raw sorted latencies gives:
   * Math.round never decreases (x <= y gives round(x) <= round(y)), so rounding every latency keeps
   * their sorted order, and the rank-k element of the rounded latencies is the rounded rank-k one.
   * The rank is computed with the same expression as before, so floating point agrees too.
   */
  percentile(p: number): number | undefined {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not between 0 and 100`);
    if (this.size === 0) return undefined;
    const rank = Math.max(1, Math.ceil((p / 100) * this.size));
    let seen = 0;
    for (let i = 0; i < this.ms.length; i += 1) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return this.ms[i];
    }
    return this.ms[this.ms.length - 1];
  }

  /** Each distinct millisecond with its count, in increasing order. */
  *entries(): IterableIterator<readonly [ms: number, count: number]> {
    for (let i = 0; i < this.ms.length; i += 1) yield [this.ms[i] ?? 0, this.counts[i] ?? 0];
  }

  toJSON(): LatencyCountsJson {
    return { ms: Array.from(this.ms), counts: Array.from(this.counts) };
  }
}

/** Collects latencies one request at a time (a group's, in the day's pass over its requests). */
export class LatencyCountsBuilder {
  // Keyed by millisecond, in any order (LatencyCounts sorts). A Map keys -0 as 0: one value, as
  // they print.
  private readonly byMs = new Map<number, number>();

  /** Counts one latency of `ms` whole milliseconds (Math.round of the raw figure). */
  add(ms: number): void {
    if (!Number.isSafeInteger(ms)) throw new RangeError(`latency ${ms} ms is not a whole millisecond`);
    this.byMs.set(ms, (this.byMs.get(ms) ?? 0) + 1);
  }

  latencyCounts(): LatencyCounts {
    return LatencyCounts.fromCounts(this.byMs);
  }
}
