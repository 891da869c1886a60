import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MeanConcurrency as Concurrency } from '../../src/domain/mean-concurrency.js';

describe("a pod's mean concurrency over a request's life", () => {
  it('is 1 alone, and the time-weighted number in flight when others overlap it', () => {
    const c = new Concurrency();
    const a = c.enter(1000);
    expect(c.leave(2000, a, 1000)).toBe(1);
    // b runs 0..100 ms; c joins at 50 ms and stays past b's end: b had 1 for 50 ms, 2 for 50 ms.
    const b = c.enter(3000);
    const d = c.enter(3050);
    expect(c.leave(3100, b, 3000)).toBeCloseTo(1.5, 12);
    // d: 2 for 50 ms, then alone for 150 ms.
    expect(c.leave(3250, d, 3050)).toBeCloseTo(1.25, 12);
  });

  it('is between 1 and the most in flight at once, whatever the order of arrivals and ends', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1000), fc.nat(1000)), { minLength: 1, maxLength: 30 }),
        (spans) => {
          const c = new Concurrency();
          type Ev = { t: number; kind: 'in' | 'out'; i: number };
          const events: Ev[] = spans.flatMap(([start, length], i) => [
            { t: 1 + start, kind: 'in' as const, i },
            { t: 1 + start + length, kind: 'out' as const, i },
          ]);
          // Arrivals before ends at the same instant, as a request is in flight from its arrival.
          events.sort((x, y) => x.t - y.t || (x.kind === y.kind ? 0 : x.kind === 'in' ? -1 : 1));
          const since = new Map<number, number>();
          for (const e of events) {
            if (e.kind === 'in') since.set(e.i, c.enter(e.t));
            else {
              const mean = c.leave(e.t, since.get(e.i) ?? 0, 1 + (spans[e.i]?.[0] ?? 0));
              expect(mean).toBeGreaterThanOrEqual(1);
              expect(mean).toBeLessThanOrEqual(spans.length + 1e-9);
            }
          }
        },
      ),
    );
  });

  it('adds nothing for a clock that steps back', () => {
    const c = new Concurrency();
    const a = c.enter(5000);
    const b = c.enter(4000);
    expect(c.leave(6000, a, 5000)).toBe(2);
    expect(c.leave(6000, b, 4000)).toBeGreaterThanOrEqual(1);
  });
});
