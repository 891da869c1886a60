import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MeanConcurrency } from '../../src/domain/mean-concurrency.js';
import { PodConcurrency } from '../../src/simulator/concurrency.js';
import { simulateDay } from '../../src/simulator/simulate.js';

interface Req {
  readonly arrival: number;
  readonly end: number;
}

describe("the simulator's meanConcurrency", () => {
  it('is the time-weighted number of requests in flight over a request, itself included', () => {
    const a = { arrival: 0, end: 10 };
    const b = { arrival: 5, end: 15 };
    const pod = new PodConcurrency([b, a]);
    expect(pod.end(a, 10)).toBe(1.5); // 5 ms alone, 5 ms with b
    expect(pod.end(b, 15)).toBe(1.5); // 5 ms with a, 5 ms alone
  });

  it("agrees with the sidecar's own measure on any pod's requests", () => {
    const requests = fc.array(
      fc.record({ arrival: fc.integer({ min: 0, max: 10_000 }), length: fc.integer({ min: 1, max: 3_000 }) }),
      { minLength: 1, maxLength: 60 },
    );
    fc.assert(
      fc.property(requests, (drawn) => {
        const reqs: Req[] = drawn.map((d) => ({ arrival: d.arrival, end: d.arrival + d.length }));
        // The sidecar sees arrivals and ends in time order (an end before an arrival at the same instant).
        const sidecar = new MeanConcurrency();
        const since = new Map<Req, number>();
        const expected = new Map<Req, number>();
        const instants = [
          ...reqs.map((r) => ({ at: r.arrival, kind: 1, r })),
          ...reqs.map((r) => ({ at: r.end, kind: 0, r })),
        ].sort((x, y) => x.at - y.at || x.kind - y.kind);
        for (const i of instants) {
          if (i.kind === 1) since.set(i.r, sidecar.enter(i.at + 1));
          else expected.set(i.r, sidecar.leave(i.at + 1, since.get(i.r) ?? 0, i.r.arrival + 1));
        }
        const pod = new PodConcurrency(reqs);
        for (const r of [...reqs].sort((x, y) => x.end - y.end))
          expect(pod.end(r, r.end)).toBeCloseTo(expected.get(r) ?? Number.NaN, 9);
      }),
    );
  });

  it("goes on the day's answered usage events only when asked, and changes nothing else", () => {
    const plain = [...simulateDay({ date: '2026-03-01', pods: 2, seed: 5, requests: 400 })].map(
      (e) => e.json,
    );
    const measured = [
      ...simulateDay({ date: '2026-03-01', pods: 2, seed: 5, requests: 400, meanConcurrency: true }),
    ].map((e) => e.json);
    expect(measured).toHaveLength(plain.length);
    const answered = measured.filter((e) => e.type === 'usage' && e.httpStatus !== 400);
    expect(answered.length).toBeGreaterThan(300);
    for (const e of answered)
      expect(Number((e.attributes as Record<string, string>).meanConcurrency)).toBeGreaterThanOrEqual(1);
    expect(answered.some((e) => Number((e.attributes as Record<string, string>).meanConcurrency) > 1.5)).toBe(
      true,
    );
    const strip = (e: Record<string, unknown>) => {
      const attributes = { ...(e.attributes as Record<string, string> | undefined) };
      delete attributes.meanConcurrency;
      return { ...e, attributes: Object.keys(attributes).length === 0 ? undefined : attributes };
    };
    expect(measured.map(strip)).toEqual(plain.map((e) => ({ ...e, attributes: e.attributes })));
    expect(plain.some((e) => (e.attributes as Record<string, string> | undefined)?.meanConcurrency)).toBe(
      false,
    );
  });
});
