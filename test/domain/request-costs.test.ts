import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import { at, capacity, runDay, usage } from '../helpers/events.js';

const sumOf = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

describe('per-request costs of a day', () => {
  it('charge a request alone on its pod all of its active time, with concurrency 1', () => {
    const day = runDay([capacity(), usage({ startedAt: at(10), finishedAt: at(20) })], {
      keepRequests: true,
      idle: 'share',
    });
    const [cost] = day.result.requestCosts ?? [];
    expect(cost).toMatchObject({ requestId: expect.any(String), maxConcurrency: 1, meanConcurrency: 1 });
    // 100 s held, all of it to the one request under `share`: 90 s of it idle.
    expect(cost?.gpuMicros).toBe(100_000_000);
    expect(cost?.idleGpuMicros).toBe(90_000_000);
    expect(cost?.nanos).toBe(100_000_000);
  });

  it('see two overlapping requests as two at once, and half of the time each on average', () => {
    const day = runDay(
      [
        capacity(),
        usage({ requestId: 'a', startedAt: at(0), finishedAt: at(20) }),
        usage({ requestId: 'b', startedAt: at(10), finishedAt: at(30) }),
      ],
      { keepRequests: true },
    );
    const a = day.result.requestCosts?.find((c) => c.requestId === 'a');
    expect(a?.maxConcurrency).toBe(2);
    expect(a?.meanConcurrency).toBeCloseTo(1.5, 9);
  });

  it('do not count back-to-back requests as two at once', () => {
    const day = runDay(
      [
        capacity(),
        usage({ requestId: 'a', startedAt: at(0), finishedAt: at(10) }),
        usage({ requestId: 'b', startedAt: at(10), finishedAt: at(20) }),
      ],
      { keepRequests: true },
    );
    expect(day.result.requestCosts?.map((c) => c.maxConcurrency)).toEqual([1, 1]);
  });

  it('split step-cost GPU-time into prefill, decode and fixed parts that add up', () => {
    const day = runDay(
      [
        capacity(),
        usage({
          startedAt: at(0),
          firstTokenAt: at(2),
          finishedAt: at(20),
          promptTokens: 4000,
          completionTokens: 500,
        }),
      ],
      { keepRequests: true, weighting: DEFAULT_WEIGHTING },
    );
    const [c] = day.result.requestCosts ?? [];
    expect(c && c.prefillGpuMicros + c.decodeGpuMicros + c.fixedGpuMicros + c.idleGpuMicros).toBe(
      c?.gpuMicros,
    );
    expect(c?.prefillGpuMicros).toBeGreaterThan(0);
    expect(c?.fixedGpuMicros).toBeGreaterThan(0);
  });

  it('add up to the allocated cost, idle spread included under share, and to every row', () => {
    const request = fc.record({
      start: fc.integer({ min: 0, max: 3000 }),
      length: fc.integer({ min: 0, max: 600 }),
      first: fc.option(fc.integer({ min: 0, max: 600 })),
      prompt: fc.integer({ min: 0, max: 8000 }),
      completion: fc.integer({ min: 0, max: 2000 }),
      tenant: fc.constantFrom('acme', 'globex'),
      pod: fc.constantFrom('pod-a', 'pod-b'),
    });
    fc.assert(
      fc.property(
        fc.array(request, { maxLength: 25 }),
        fc.constantFrom('separate', 'share' as const),
        (rs, idle) => {
          const events = [
            capacity({ pod: 'pod-a', windowStart: at(0), windowEnd: at(4000) }),
            capacity({ pod: 'pod-b', windowStart: at(100), windowEnd: at(2000) }),
            ...rs.map((r) =>
              usage({
                pod: r.pod,
                tenant: r.tenant,
                startedAt: at(r.start),
                firstTokenAt: r.first === null ? null : at(r.start + Math.min(r.first, r.length)),
                finishedAt: at(r.start + r.length),
                promptTokens: r.prompt,
                completionTokens: r.completion,
              }),
            ),
          ];
          for (const weighting of [DEFAULT_WEIGHTING, { kind: 'time-share' } as const]) {
            const day = runDay(events, { keepRequests: true, idle, weighting });
            const costs = day.result.requestCosts ?? [];
            // Under `share` the idle of a pod that served no request stays idle: allocated either way.
            const exact = day.result.allocatedNanos;
            // The printed result is rounded to micro-dollars; the request costs stay exact nanos.
            expect(Math.abs(sumOf(costs.map((c) => c.nanos)) - exact)).toBeLessThan(1000);
            for (const c of costs) {
              expect(c.prefillGpuMicros + c.decodeGpuMicros + c.fixedGpuMicros + c.idleGpuMicros).toBe(
                c.gpuMicros,
              );
              expect(c.meanConcurrency).toBeLessThanOrEqual(c.maxConcurrency + 1e-9);
            }
            for (const row of day.result.rows.filter((r) => !r.idle)) {
              const mine = costs.filter((c) => c.tenant === row.tenant && c.feature === row.feature);
              expect(Math.abs(sumOf(mine.map((c) => c.nanos)) - row.nanos)).toBeLessThan(1000);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
