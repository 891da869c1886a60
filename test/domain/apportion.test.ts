import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apportion } from '../../src/domain/apportion.js';
import { union, meets } from '../../src/domain/intervals.js';

describe('apportion', () => {
  it('splits in proportion and adds up exactly', () => {
    expect(apportion(100, [1, 1, 2])).toEqual([25, 25, 50]);
  });

  it('always adds up to the total with parts within one unit of their share', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1e12 }),
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (total, weights) => {
          const parts = apportion(total, weights);
          expect(parts.reduce((a, b) => a + b, 0)).toBe(total);
          const sum = weights.reduce((a, b) => a + b, 0);
          if (sum > 0)
            parts.forEach((part, i) => {
              expect(Math.abs(part - (total * (weights[i] ?? 0)) / sum)).toBeLessThanOrEqual(1.000001);
            });
        },
      ),
    );
  });

  it('copes with subnormal weights, where total / sum would overflow', () => {
    expect(apportion(1e12, [5e-324, 5e-324])).toEqual([5e11, 5e11]);
  });

  it('puts everything on the last part when all weights are zero', () => {
    expect(apportion(7, [0, 0, 0])).toEqual([0, 0, 7]);
  });
});

describe('intervals', () => {
  it('merges overlapping, touching and repeated windows', () => {
    expect(
      union([
        { start: 5, end: 9 },
        { start: 0, end: 5 },
        { start: 0, end: 5 },
        { start: 20, end: 30 },
        { start: 25, end: 26 },
      ]),
    ).toEqual([
      { start: 0, end: 9 },
      { start: 20, end: 30 },
    ]);
  });

  it('tells whether a span meets any interval', () => {
    const held = [{ start: 10, end: 20 }];
    expect(meets(held, 0, 10)).toBe(false);
    expect(meets(held, 0, 11)).toBe(true);
    expect(meets(held, 20, 20)).toBe(false);
    expect(meets(held, 10, 10)).toBe(true);
  });
});
