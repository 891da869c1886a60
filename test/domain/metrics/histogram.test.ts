import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addHistograms,
  BIN_EDGES,
  binIndex,
  HistogramBuilder,
  quantile,
  quantileBin,
} from '../../../src/domain/metrics/histogram.js';

const EDGES = BIN_EDGES.latencyMs;

/** The exact nearest-rank q-quantile, as the CSV's p50 and p95 take it (before rounding). */
function nearestRank(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] ?? NaN;
}

// Latencies from sub-millisecond to past the last edge, integers (which fall on edges) and not.
const latency = fc.oneof(
  fc.integer({ min: 0, max: 20_000 }),
  fc.double({ min: 0, max: 1e7, noNaN: true, noDefaultInfinity: true }),
);

describe('histograms summed over days (contracts.md §8)', () => {
  it('give a quantile whose bin holds the exact nearest-rank quantile of all the days’ values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(latency, fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 400 }),
        fc.double({ min: 0.001, max: 1, noNaN: true }),
        (values, q) => {
          const days = Array.from({ length: 7 }, () => new HistogramBuilder(EDGES));
          for (const [value, day] of values) days[day]?.add(value);
          const summed = addHistograms(days.map((d) => d.histogram()));
          const exact = nearestRank(
            values.map(([v]) => v),
            q,
          );
          const bin = quantileBin(EDGES, summed, q);
          expect(bin).toBeDefined();
          expect(bin?.lower).toBeLessThanOrEqual(exact);
          expect(exact).toBeLessThan(bin?.upper ?? -Infinity);
          // The single figure is the bin's upper edge: never below the truth (the open last bin aside).
          if (Number.isFinite(bin?.upper)) expect(quantile(EDGES, summed, q)).toBeGreaterThanOrEqual(exact);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('add up to the histogram of all the values at once, bin for bin', () => {
    fc.assert(
      fc.property(fc.array(fc.array(latency, { maxLength: 50 }), { maxLength: 6 }), (days) => {
        const once = new HistogramBuilder(EDGES);
        for (const value of days.flat()) once.add(value);
        const summed = addHistograms(
          days.map((values) => {
            const day = new HistogramBuilder(EDGES);
            for (const value of values) day.add(value);
            return day.histogram();
          }),
        );
        expect(summed).toEqual(once.histogram());
      }),
    );
  });

  it('have no quantile when no value was counted', () => {
    expect(quantileBin(EDGES, addHistograms([[], [0, 0]]), 0.95)).toBeUndefined();
  });
});

describe('a histogram builder', () => {
  it('counts every value in the bin binIndex finds, with its lookup table or without', () => {
    const fractional = [0, 0.5, 1.5, 10.25, 5000.5];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(latency, fc.double({ min: -10, max: 5000, noNaN: true }), fc.constant(Number.NaN))),
        (values) => {
          for (const edges of [EDGES, BIN_EDGES.promptTokens, fractional]) {
            const builder = new HistogramBuilder(edges);
            const expected = new Array<number>(edges.length).fill(0);
            for (const value of values) {
              builder.add(value);
              const i = binIndex(edges, value);
              expected[i] = (expected[i] ?? 0) + 1;
            }
            expect(addHistograms([builder.histogram(), expected.map(() => 0)])).toEqual(expected);
          }
        },
      ),
    );
  });
});

describe('bin edges', () => {
  it('start at 0 and grow by at most a quarter octave past the small integers', () => {
    for (const edges of Object.values(BIN_EDGES)) {
      expect(edges[0]).toBe(0);
      for (let i = 2; i < edges.length; i++) {
        const ratio = (edges[i] ?? 0) / (edges[i - 1] ?? 1);
        expect(ratio).toBeGreaterThan(1);
        if ((edges[i - 1] ?? 0) >= 8) expect(ratio).toBeLessThanOrEqual(1.25);
      }
    }
  });
});
