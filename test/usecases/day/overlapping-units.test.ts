import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { overlappingUnits } from '../../../src/usecases/day/compute-day.js';

const unit = (ids: readonly bigint[], replicas: readonly string[] = []) => ({
  replicas,
  ids: BigUint64Array.from([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))),
});

/** The groups the slow way: every pair of units compared. */
function naive(units: readonly ReturnType<typeof unit>[]): number[][] {
  const group = units.map((_, i) => i);
  const root = (i: number): number => (group[i] === i ? i : root(group[i] ?? i));
  for (let a = 0; a < units.length; a++) {
    for (let b = a + 1; b < units.length; b++) {
      const ua = units[a];
      const ub = units[b];
      if (ua === undefined || ub === undefined) continue;
      const shared =
        ua.replicas.some((r) => ub.replicas.includes(r)) || [...ua.ids].some((v) => ub.ids.includes(v));
      if (shared) group[Math.max(root(a), root(b))] = Math.min(root(a), root(b));
    }
  }
  const out = new Map<number, number[]>();
  units.forEach((_, i) => out.set(root(i), [...(out.get(root(i)) ?? []), i]));
  return [...out.values()].filter((g) => g.length > 1);
}

describe('the units that must be computed as one', () => {
  it('are none when units share neither a replica nor an eventId hash', () => {
    expect(overlappingUnits([unit([1n, 5n], ['a']), unit([2n, 6n], ['b']), unit([], ['c'])])).toEqual([]);
  });

  it('joins units transitively through hashes in three lists and through a replica', () => {
    const high = (1n << 63n) + 7n; // a value whose upper half has its top bit set
    const units = [
      unit([1n, high], ['a']),
      unit([2n], ['b']),
      unit([high, 3n], ['c']),
      unit([4n, high], ['d']),
      unit([9n], ['b']),
      unit([(1n << 32n) + 1n], ['e']), // the same lower half as 1n, another value
    ];
    expect(overlappingUnits(units)).toEqual([
      [0, 2, 3],
      [1, 4],
    ]);
  });

  it('agrees with comparing every pair, on random units', () => {
    const value = fc.oneof(fc.bigInt({ min: 0n, max: 40n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ids: fc.uniqueArray(value, { maxLength: 12 }),
            replicas: fc.uniqueArray(fc.constantFrom('p', 'q', 'r', 's', 't', 'u', 'v'), { maxLength: 1 }),
          }),
          { maxLength: 8 },
        ),
        (specs) => {
          const units = specs.map((s) => unit(s.ids, s.replicas));
          expect(overlappingUnits(units)).toEqual(naive(units));
        },
      ),
      { numRuns: 300 },
    );
  });
});
