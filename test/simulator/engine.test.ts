import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runEngine, STEP_MS, type EngineConfig, type EngineRequest } from '../../src/simulator/engine.js';

const CONFIG: EngineConfig = { stepFactor: 1, maxSeqs: 8, tokenBudget: 512 };

function req(
  arrival: number,
  promptTokens: number,
  target: number,
  cached = 0,
  refused = false,
): EngineRequest {
  return {
    arrival,
    promptTokens,
    cachedPromptTokens: cached,
    target,
    refused,
    scheduledAt: undefined,
    firstTokenAt: undefined,
    finishedAt: 0,
    produced: 0,
    gpuMs: 0,
  };
}

function run(requests: EngineRequest[], config = CONFIG): EngineRequest[] {
  return [...runEngine(config, requests)];
}

/** Length of the union of [scheduledAt, finishedAt]: the time the engine was stepping. */
function busy(requests: readonly EngineRequest[]): number {
  const spans = requests
    .filter((r) => r.scheduledAt !== undefined)
    .map((r) => [r.scheduledAt ?? 0, r.finishedAt] as const)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const [s, e] of spans) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total;
}

const workload = fc.array(
  fc.record({
    arrival: fc.integer({ min: 0, max: 20_000 }),
    prompt: fc.integer({ min: 1, max: 1500 }),
    target: fc.integer({ min: 0, max: 300 }),
    cached: fc.integer({ min: 0, max: 1500 }),
    refused: fc.boolean(),
  }),
  { minLength: 1, maxLength: 40 },
);

const build = (w: { arrival: number; prompt: number; target: number; cached: number; refused: boolean }[]) =>
  w
    .map((x) => req(x.arrival, x.prompt, x.target, Math.min(x.cached, x.prompt), x.refused))
    .sort((a, b) => a.arrival - b.arrival);

describe('simulated continuous-batching engine', () => {
  it('charges a request alone on the engine exactly the time it ran', () => {
    const [r] = run([req(0, 1000, 50)]);
    expect(r?.scheduledAt).toBe(0);
    expect(r?.produced).toBe(50);
    expect(r?.gpuMs).toBeCloseTo((r?.finishedAt ?? 0) - (r?.scheduledAt ?? 0), 9);
    // Prefill of 1000 tokens is two chunks of the 512-token budget; then 49 decode steps.
    expect(r?.firstTokenAt).toBeCloseTo(2 * STEP_MS.base + 1000 * STEP_MS.prefillPerToken, 9);
  });

  it('splits the fixed part of shared steps equally and keeps each marginal cost with its owner', () => {
    const [a, b] = run([req(0, 10, 100), req(0, 10, 100)]);
    expect(a?.gpuMs).toBeCloseTo(b?.gpuMs ?? 0, 9);
    expect((a?.gpuMs ?? 0) + (b?.gpuMs ?? 0)).toBeCloseTo(a?.finishedAt ?? 0, 9);
    // Batched, each costs far less than running alone would.
    const [alone] = run([req(0, 10, 100)]);
    expect(a?.gpuMs).toBeLessThan(0.6 * (alone?.gpuMs ?? 0));
  });

  it('a refused request uses no GPU and never gets a first token', () => {
    const [r] = run([req(5, 100, 10, 0, true)]);
    expect(r?.gpuMs).toBe(0);
    expect(r?.firstTokenAt).toBeUndefined();
    expect(r?.scheduledAt).toBeUndefined();
  });

  it('a request that fails before its first token still pays for its prefill', () => {
    const [r] = run([req(0, 300, 0)]);
    expect(r?.firstTokenAt).toBeUndefined();
    expect(r?.produced).toBe(0);
    expect(r?.gpuMs).toBeCloseTo(STEP_MS.base + 300 * STEP_MS.prefillPerToken, 9);
  });

  it('queues requests beyond its seats and reports the wait', () => {
    const requests = Array.from({ length: 12 }, () => req(0, 20, 30));
    const done = run(requests);
    const waited = done.filter((r) => (r.scheduledAt ?? 0) > r.arrival);
    expect(waited.length).toBe(4);
  });

  it('the GPU time of all requests adds up to the time the engine was busy', () => {
    fc.assert(
      fc.property(workload, (w) => {
        const done = run(build(w));
        const total = done.reduce((sum, r) => sum + r.gpuMs, 0);
        expect(total).toBeCloseTo(busy(done), 6);
        for (const r of done) expect(r.gpuMs).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('jumping over pure-decode stretches gives what stepping one at a time gives', () => {
    fc.assert(
      fc.property(workload, (w) => {
        const fast = build(w);
        const slow = build(w);
        run(fast);
        run(slow, { ...CONFIG, stepwise: true });
        fast.forEach((r, i) => {
          expect(r.finishedAt).toBeCloseTo(slow[i]?.finishedAt ?? -1, 6);
          expect(r.gpuMs).toBeCloseTo(slow[i]?.gpuMs ?? -1, 6);
        });
      }),
    );
  });
});
