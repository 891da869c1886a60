import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { at, capacity, DEFAULT_WEIGHTING, runDay, usage } from '../helpers/events.js';

// A small random fleet: pods with windows that overlap, repeat and run over midnight, requests
// that queue, prefill, decode and cross midnight, some on pods without capacity.
const pods = ['pod-a', 'pod-b', 'pod-c'];
const tenants = ['acme', 'globex', '=cmd', 'a,"b"'];

const capacityArb = fc
  .record({
    pod: fc.constantFrom(...pods),
    start: fc.integer({ min: -200, max: 86_300 }),
    length: fc.integer({ min: 1, max: 300 }),
  })
  .map(({ pod, start, length }) => capacity({ pod, windowStart: at(start), windowEnd: at(start + length) }));

const usageArb = fc
  .record({
    pod: fc.constantFrom(...pods, 'pod-none'),
    tenant: fc.constantFrom(...tenants),
    feature: fc.constantFrom('chat', 'search'),
    start: fc.integer({ min: -100, max: 86_390 }),
    queue: fc.integer({ min: 0, max: 2000 }),
    // Phases of 0 ms, or long enough for the tokens to be plausible (see plausibility.ts).
    prefill: fc.oneof(fc.constant(0), fc.integer({ min: 20, max: 5000 })),
    decode: fc.oneof(fc.constant(0), fc.integer({ min: 20, max: 60_000 })),
    prompt: fc.integer({ min: 0, max: 8000 }),
    completion: fc.integer({ min: 0, max: 1000 }),
    status: fc.constantFrom('ok', 'ok', 'error', 'aborted'),
  })
  .map((r) => {
    const started = Date.parse(at(r.start));
    return usage({
      pod: r.pod,
      tenant: r.tenant,
      feature: r.feature,
      startedAt: new Date(started).toISOString(),
      firstTokenAt: new Date(started + r.queue + r.prefill).toISOString(),
      finishedAt: new Date(started + r.queue + r.prefill + r.decode).toISOString(),
      queueMs: r.queue,
      promptTokens: r.prompt,
      completionTokens: r.completion,
      status: r.status,
    });
  });

const dayArb = fc
  .tuple(fc.array(capacityArb, { maxLength: 12 }), fc.array(usageArb, { maxLength: 40 }))
  .map(([c, u]) => [...c, ...u]);
const policyArb = fc.record({
  idle: fc.constantFrom('separate' as const, 'share' as const),
  weighting: fc.constantFrom(DEFAULT_WEIGHTING, { kind: 'time-share' as const }),
});

function withoutReadCounters(summary: string): unknown {
  const {
    generatedAt: _g,
    eventsRead: _r,
    duplicatesDropped: _d,
    ...rest
  } = JSON.parse(summary) as Record<string, unknown>;
  return rest;
}

describe('accounting invariants (fast-check)', () => {
  it('closure: allocated + idle = fleet exactly, and the CSV cost cells add up to the printed fleet exactly', () => {
    fc.assert(
      fc.property(dayArb, policyArb, (events, policy) => {
        const { result, rows, summaryJson } = runDay(events, policy);
        expect(result.allocatedNanos + result.idleNanos).toBe(result.fleetNanos);
        const micros = (usd: unknown): number => Math.round(Number(usd) * 1e6);
        const csvTotal = rows.reduce((total, row) => total + micros(row.costUsd), 0);
        expect(csvTotal).toBe(micros(summaryJson.fleetCostUsd));
        expect(micros(summaryJson.allocatedCostUsd) + micros(summaryJson.idleCostUsd)).toBe(csvTotal);
      }),
      { numRuns: 200 },
    );
  });

  it('shuffling the input changes no output byte except generation time', () => {
    fc.assert(
      fc.property(dayArb, policyArb, fc.integer(), (events, policy, seed) => {
        const shuffled =
          fc.sample(fc.shuffledSubarray(events, { minLength: events.length }), { seed, numRuns: 1 })[0] ?? [];
        const a = runDay(events, policy);
        const b = runDay(shuffled, policy);
        expect(b.csv).toBe(a.csv);
        expect(b.summary).toBe(a.summary);
      }),
      { numRuns: 150 },
    );
  });

  it('repeating any events changes no CSV byte and only the read counters of the summary', () => {
    fc.assert(
      fc.property(dayArb, policyArb, fc.array(fc.nat(), { maxLength: 20 }), (events, policy, picks) => {
        const repeats = events.length === 0 ? [] : picks.map((i) => events[i % events.length] ?? {});
        const a = runDay(events, policy);
        const b = runDay([...events, ...repeats], policy);
        expect(b.csv).toBe(a.csv);
        expect(withoutReadCounters(b.summary)).toEqual(withoutReadCounters(a.summary));
        expect(b.summaryJson.duplicatesDropped).toBe(repeats.length);
      }),
      { numRuns: 150 },
    );
  });

  it('a request never gets a negative or non-integer share, and idle is never negative', () => {
    fc.assert(
      fc.property(dayArb, policyArb, (events, policy) => {
        const { result } = runDay(events, policy);
        for (const row of result.rows) {
          expect(Number.isSafeInteger(row.nanos) && row.nanos >= 0).toBe(true);
        }
        expect(result.idleNanos).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 150 },
    );
  });
});
