import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventAccumulator } from '../../src/domain/accumulator.js';
import { parseRecord } from '../../src/domain/fast-parse.js';
import { at, capacity, runDay, TEST_PRICES, usage } from '../helpers/events.js';

// Three versions of one eventId (A and B differ in tenant, C in its tokens), a version that
// differs only in fields accounting does not read, and two other events.
const A = usage({ eventId: 'dup', tenant: 'alpha' });
const B = { ...A, tenant: 'beta' };
const C = { ...A, promptTokens: 999 };
const A_OTHER_SPELLING = {
  ...A,
  requestId: 'retried',
  attributes: { try: '2' },
  startedAt: at(10).replace('Z', '+00:00'),
};
const OTHERS = [capacity(), usage({ tenant: 'gamma' })];

/** The positions of the lines, and what the accumulator made of them. */
function intake(lines: readonly Record<string, unknown>[]) {
  const accumulator = new EventAccumulator<number>(TEST_PRICES);
  lines.forEach((line, i) => accumulator.add(parseRecord(line, accumulator.intern), i));
  return { counts: accumulator.counts, conflicts: accumulator.conflicts(), usage: accumulator.usage() };
}

describe('a conflicting duplicate (contracts.md §4.6)', () => {
  it('gives the same counts for A B B and B B A, and rejects both copies of the version not kept', () => {
    const forward = intake([A, B, B]);
    const backward = intake([B, B, A]);
    expect(forward.counts).toEqual(backward.counts);
    expect(forward.counts).toMatchObject({ usageEvents: 1, duplicatesDropped: 0, rejected: 2 });
    // Version A ("alpha" sorts first) is kept: the rejected lines are the copies of B.
    expect(forward.conflicts.map((c) => c.where)).toEqual([1, 2]);
    expect(backward.conflicts.map((c) => c.where)).toEqual([0, 1]);
    expect(backward.usage.map((u) => u.tenant)).toEqual(['alpha']);
  });

  it('counts copies of the kept version beyond the first as duplicates, including other spellings', () => {
    const { counts, conflicts } = intake([B, A, A_OTHER_SPELLING, C]);
    expect(counts).toMatchObject({ eventsRead: 4, usageEvents: 1, duplicatesDropped: 1, rejected: 2 });
    expect(conflicts.map((c) => c.reason).sort()).toEqual([
      'eventId "dup" has another version, which was kept: this one differs in promptTokens',
      'eventId "dup" has another version, which was kept: this one differs in tenant',
    ]);
  });

  it('gives the same counts, rejections and report for every order of the copies', () => {
    const copies = fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(2));
    fc.assert(
      fc.property(copies, fc.integer(), ([a, b, c, spelled], seed) => {
        const lines = [
          ...Array<Record<string, unknown>>(a).fill(A),
          ...Array<Record<string, unknown>>(b).fill(B),
          ...Array<Record<string, unknown>>(c).fill(C),
          ...Array<Record<string, unknown>>(spelled).fill(A_OTHER_SPELLING),
          ...OTHERS,
        ];
        const shuffled =
          fc.sample(fc.shuffledSubarray(lines, { minLength: lines.length }), { seed, numRuns: 1 })[0] ?? [];
        const one = runDay(lines);
        const other = runDay(shuffled);
        expect(other.summaryJson).toEqual({ ...one.summaryJson, generatedAt: other.summaryJson.generatedAt });
        expect(other.csv).toBe(one.csv);
        expect(other.rejections).toEqual(one.rejections);
        // The rejected positions are exactly those of the copies of the versions not kept.
        // Canonical content order: A (alpha, 100 tokens) < C (alpha, 999) < B (beta).
        const kept: Record<string, unknown>[] = a + spelled > 0 ? [A, A_OTHER_SPELLING] : c > 0 ? [C] : [B];
        const where = intake(shuffled).conflicts.map((x) => x.where);
        const expected = shuffled.flatMap((line, i) =>
          line.eventId === 'dup' && !kept.includes(line) ? [i] : [],
        );
        expect([...where].sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(expected);
        const s = other.summaryJson as Record<string, number>;
        expect(s.eventsRead).toBe(
          (s.usageEvents ?? 0) +
            (s.capacityEvents ?? 0) +
            (s.ignoredEvents ?? 0) +
            (s.duplicatesDropped ?? 0) +
            (s.rejected ?? 0),
        );
      }),
      { numRuns: 200 },
    );
  });
});
