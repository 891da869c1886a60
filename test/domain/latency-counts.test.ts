import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/domain/errors.js';
import { LatencyCounts, LatencyCountsBuilder } from '../../src/domain/metrics/latency-counts.js';

/** What the CSV printed before the counts: nearest rank on the sorted raw latencies, then Math.round. */
function sortedFloatPercentile(sorted: Float64Array, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return Math.round(sorted[rank - 1] ?? 0);
}

function countsOf(rawMs: readonly number[]): LatencyCounts {
  const builder = new LatencyCountsBuilder();
  for (const ms of rawMs) builder.add(Math.round(ms));
  return builder.latencyCounts();
}

// Latencies as the day computes them: whole microseconds apart, divided by 1000.
const rawLatencies = fc.array(
  fc
    .oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 10_000_000_000 }))
    .map((us) => us / 1000),
  { maxLength: 300 },
);
const percentiles = fc.oneof(
  fc.constantFrom(0, 50, 95, 99, 100),
  fc.double({ min: 0, max: 100, noNaN: true }),
);

describe('LatencyCounts', () => {
  it('gives exactly the rounded nearest-rank percentile of the raw sorted latencies', () => {
    fc.assert(
      fc.property(rawLatencies, percentiles, (raw, p) => {
        const expected = sortedFloatPercentile(Float64Array.from(raw).sort(), p);
        expect(Object.is(countsOf(raw).percentile(p), expected)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('prints what the raw percentile printed for latencies below zero and at halves', () => {
    const raw = [-0.5, -0.4, -1.5, 0.5, 1.5, 2.5, -0];
    for (const p of [0, 10, 30, 50, 95, 100]) {
      const expected = sortedFloatPercentile(Float64Array.from(raw).sort(), p);
      expect(String(countsOf(raw).percentile(p))).toBe(String(expected));
    }
  });

  it('has no percentile when nothing is counted', () => {
    expect(LatencyCounts.EMPTY.percentile(50)).toBeUndefined();
  });

  it('refuses a percentile outside 0 to 100', () => {
    expect(() => countsOf([1]).percentile(101)).toThrow(RangeError);
  });

  it('counts every latency in size and each millisecond once in distinct', () => {
    const counts = countsOf([3, 3.2, 2.6, 7, 0]);
    expect([counts.size, counts.distinct]).toEqual([5, 3]);
  });

  it('lists each millisecond with its count, increasing', () => {
    expect([...countsOf([7, 3, 3, 0]).entries()]).toEqual([
      [0, 1],
      [3, 2],
      [7, 1],
    ]);
  });

  it('merges the counts of disjoint sets into those of their union', () => {
    fc.assert(
      fc.property(fc.array(rawLatencies, { maxLength: 5 }), (parts) => {
        expect(LatencyCounts.merge(parts.map(countsOf))).toEqual(countsOf(parts.flat()));
      }),
    );
  });

  it('merges nothing into the empty counts', () => {
    expect(LatencyCounts.merge([])).toEqual(LatencyCounts.EMPTY);
  });

  it('builder refuses a latency that is not whole milliseconds', () => {
    const builder = new LatencyCountsBuilder();
    expect(() => {
      builder.add(1.5);
    }).toThrow(RangeError);
  });

  it('fromCounts refuses a count below 1', () => {
    expect(() => LatencyCounts.fromCounts(new Map([[4, 0]]))).toThrow(RangeError);
  });

  it('reads its JSON form back exactly', () => {
    fc.assert(
      fc.property(rawLatencies, (raw) => {
        const counts = countsOf(raw);
        const text = JSON.stringify(counts);
        expect(LatencyCounts.fromJSON(JSON.parse(text))).toEqual(counts);
      }),
    );
  });

  it('writes its JSON form as the distinct milliseconds and their counts', () => {
    expect(JSON.stringify(countsOf([5, 1, 5]))).toBe('{"ms":[1,5],"counts":[1,2]}');
  });

  it.each([
    ['not an object', [], 'lat must be an object { ms, counts }'],
    ['an extra field', { ms: [], counts: [], n: 1 }, 'lat has an unexpected field "n"'],
    ['ms not an array', { ms: 1, counts: [] }, 'lat.ms must be an array'],
    ['counts missing', { ms: [] }, 'lat.counts must be an array'],
    ['lengths that differ', { ms: [1, 2], counts: [1] }, 'lat.counts has 1 entries for 2 milliseconds'],
    ['a fractional millisecond', { ms: [1.5], counts: [1] }, 'lat.ms[0] must be a safe integer'],
    ['milliseconds out of order', { ms: [2, 1], counts: [1, 1] }, 'lat.ms[1] must be above .ms[0]'],
    ['a repeated millisecond', { ms: [2, 2], counts: [1, 1] }, 'lat.ms[1] must be above .ms[0]'],
    ['a zero count', { ms: [2], counts: [0] }, 'lat.counts[0] must be an integer >= 1'],
    ['a count as a string', { ms: [2], counts: ['1'] }, 'lat.counts[0] must be an integer >= 1'],
    [
      'counts past a safe integer',
      { ms: [1, 2], counts: [Number.MAX_SAFE_INTEGER, 1] },
      'lat.counts add up to more than a safe integer',
    ],
  ])('fromJSON refuses %s, naming the field', (_, value, message) => {
    expect(() => LatencyCounts.fromJSON(value, 'lat')).toThrow(new PermanentError(message));
  });
});
