import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  runEngine,
  type EngineConfig,
  type EngineRequest,
  type StepSpan,
} from '../../src/simulator/engine.js';
import { paddedBatch, type VllmLikeCosts } from '../../src/simulator/vllm-like.js';
import { parseRecord } from '../../src/domain/fast-parse.js';
import { StallDetector, StepClock } from '../../src/domain/stalls.js';
import { simulateDay } from '../../src/simulator/simulate.js';

const COSTS: VllmLikeCosts = {
  base: 10,
  prefillPerToken: 0.1,
  attentionPerTokenPair: 0.00001,
  decodePerToken: 0.5,
  perContextToken: 0.001,
  kvCacheTokens: 1_000_000,
};

function req(arrival: number, promptTokens: number, target: number, cached = 0): EngineRequest {
  return {
    arrival,
    promptTokens,
    cachedPromptTokens: cached,
    target,
    refused: false,
    scheduledAt: undefined,
    firstTokenAt: undefined,
    finishedAt: 0,
    produced: 0,
    gpuMs: 0,
  };
}

function run(
  requests: EngineRequest[],
  change: Partial<VllmLikeCosts> = {},
  config: Partial<EngineConfig> = {},
): { done: EngineRequest[]; spans: StepSpan[] } {
  const spans: StepSpan[] = [];
  const done = [
    ...runEngine(
      {
        stepFactor: 1,
        maxSeqs: 16,
        tokenBudget: 1024,
        vllmLike: { ...COSTS, ...change },
        onSteps: (s) => spans.push(s),
        ...config,
      },
      requests,
    ),
  ];
  return { done, spans };
}

const spanMs = (s: StepSpan): number => s.steps * s.firstMs + (s.slopeMs * s.steps * (s.steps - 1)) / 2;

describe('vLLM-like engine', () => {
  it('pads a decode-only batch to the captured graph size and charges the padded seats', () => {
    expect([1, 2, 3, 5, 9, 17, 25, 250, 300].map(paddedBatch)).toEqual([1, 2, 4, 8, 16, 24, 32, 256, 300]);
    // Three sequences prefilled together, then decoding: each decode step runs a batch of 4.
    const { done, spans } = run([req(0, 10, 6), req(0, 10, 6), req(0, 10, 6)]);
    const decodeOnly = spans.filter((s) => s.prefillTokens === 0);
    expect(decodeOnly.length).toBeGreaterThan(0);
    for (const s of decodeOnly) {
      expect(s.decoding).toBe(3);
      // base + 4 padded seats + the context the 3 sequences read (11 tokens each in the first step)
      expect(s.firstMs).toBeCloseTo(10 + 4 * 0.5 + 0.001 * 3 * 11, 9);
    }
    // The padding is shared: the three requests together pay every step in full.
    const total = spans.reduce((a, s) => a + spanMs(s), 0);
    expect(done.reduce((a, r) => a + r.gpuMs, 0)).toBeCloseTo(total, 6);
    expect(done[0]?.gpuMs).toBeCloseTo(done[1]?.gpuMs ?? 0, 9);
  });

  it('makes a chunk of prefill cost more the further into its prompt it lies', () => {
    const { done, spans } = run([req(0, 4096, 1)]);
    const chunks = spans.map((s) => s.firstMs);
    expect(chunks).toHaveLength(4);
    // chunk at offset o of c = 1024 tokens: base + 0.1 c + 1e-5 c (o + c/2)
    chunks.forEach((ms, i) => {
      expect(ms).toBeCloseTo(10 + 102.4 + 0.00001 * 1024 * (1024 * i + 512), 9);
    });
    expect(chunks[3] ?? 0).toBeGreaterThan(chunks[0] ?? 0);
    // Attention over a prompt of P tokens adds 1e-5 x P^2 / 2 to its cost, however it is chunked.
    expect(done[0]?.gpuMs).toBeCloseTo(4 * 10 + 409.6 + (0.00001 * 4096 * 4096) / 2, 6);
  });

  it('starts a cached prompt’s attention at the end of its cached prefix', () => {
    const cold = run([req(0, 1000, 1)]).done[0]?.gpuMs ?? 0;
    const warm = run([req(0, 1000, 1, 600)]).done[0]?.gpuMs ?? 0;
    // 400 computed tokens at offsets 600..1000: 0.1 x 400 + 1e-5 x 400 x (600 + 200)
    expect(warm).toBeCloseTo(10 + 40 + 0.00001 * 400 * 800, 9);
    expect(cold).toBeCloseTo(10 + 100 + (0.00001 * 1000 * 1000) / 2, 9);
  });

  it('preempts the newest sequence when the KV cache fills and recomputes it inside its decode window', () => {
    // Two sequences of 100-token prompts growing by 200 tokens each do not fit 450 tokens of cache.
    const older = req(0, 100, 200);
    const newer = req(1, 100, 200);
    const { done, spans } = run([older, newer], { kvCacheTokens: 450 });
    expect(done).toHaveLength(2);
    const first = newer.firstTokenAt ?? Infinity;
    // A prefill step after the newer one's first token: its recompute of prompt + tokens made.
    const recompute = spans.filter((s) => s.prefillTokens > 0 && s.start >= first);
    expect(recompute.length).toBeGreaterThan(0);
    const tokens = recompute.reduce((a, s) => a + s.prefillTokens, 0);
    expect(tokens).toBeGreaterThan(100);
    for (const s of recompute) expect(s.start + s.firstMs).toBeLessThanOrEqual(newer.finishedAt);
    // The older one is never preempted and finishes first; the newer made all its tokens.
    expect(older.finishedAt).toBeLessThan(newer.finishedAt);
    expect(newer.produced).toBe(200);
    // The recompute is the newer one's own work: without preemption it would cost less.
    const roomy = [req(0, 100, 200), req(1, 100, 200)];
    run(roomy);
    expect(newer.gpuMs).toBeGreaterThan((roomy[1]?.gpuMs ?? 0) + 0.1 * tokens * 0.9);
    const total = spans.reduce((a, s) => a + spanMs(s), 0);
    expect(older.gpuMs + newer.gpuMs).toBeCloseTo(total, 6);
  });

  it('shows a preempted sequence’s stall as the sidecar measures it from its tokens’ arrivals', () => {
    // 1,000-token prompts growing by 300 tokens each do not fit 2,400 tokens of cache.
    const older = req(0, 1000, 300);
    const newer = req(1, 1000, 300);
    const { spans } = run([older, newer], { kvCacheTokens: 2400 }, { stepwise: true });
    // The streams as a client sees them: at each step's end a token for every sequence that
    // decoded in it (the older one from its first token to its end, the newer one when two
    // decoded, or one after the older ended) and for each first token.
    const clock = new StepClock();
    const detector = new StallDetector();
    for (const s of spans) {
      const end = s.start + s.firstMs;
      if (s.decoding === 0 && s.firstTokens === 0) continue;
      const step = clock.tick(end);
      const newerDecoded = s.decoding === 2 || (s.decoding === 1 && end > older.finishedAt);
      if (end === newer.firstTokenAt || newerDecoded) detector.token(end, step);
    }
    expect(newer.stalls).toBeDefined();
    expect(newer.stalls).toEqual(detector.stalls);
    expect(older.stalls).toBeUndefined();
    // The one stall: tokens made before it, a gap that holds the recompute of their context.
    const [stall] = newer.stalls ?? [];
    expect(stall?.tokens).toBeGreaterThan(1);
    expect(stall?.tokens).toBeLessThan(300);
    expect(stall?.gapMs).toBeGreaterThan(0.1 * (1000 + (stall?.tokens ?? 0)));
  });

  it('puts the stalls on the day’s usage events, where the report reads them back whole', () => {
    const engine = { ...COSTS, base: 14, prefillPerToken: 0.07, decodePerToken: 0.02, perContextToken: 5e-5 };
    const day = (kvCacheTokens: number) =>
      [
        ...simulateDay({
          date: '2026-11-22',
          pods: 3,
          seed: 5,
          requests: 6000,
          variant: {
            models: {
              'llama-3.1-8b-instruct': { vllmLike: { ...engine, kvCacheTokens } },
              'qwen2.5-14b-instruct': { vllmLike: { ...engine, kvCacheTokens } },
            },
          },
        }),
      ].filter((e) => e.json.type === 'usage');
    const tight = day(40_000).filter((e) => e.json.attributes !== undefined);
    expect(tight.length).toBeGreaterThan(0);
    for (const e of tight) {
      const result = parseRecord(e.json);
      if (!result.ok || result.record?.type !== 'usage') throw new Error('a simulated event was refused');
      expect(result.record.stallsIgnored).toBeUndefined();
      expect(result.record.stalls?.length).toBeGreaterThan(0);
    }
    expect(day(10_000_000).filter((e) => e.json.attributes !== undefined)).toEqual([]);
  });

  it('refuses a KV cache that cannot hold one sequence, naming its size', () => {
    expect(() => run([req(0, 100, 5), req(0, 100, 5)], { kvCacheTokens: 50 })).toThrow(/50 tokens/);
    expect(() => run([req(0, 10, 5)], { kvCacheTokens: 0 })).toThrow(/kvCacheTokens/);
  });

  it('splits every step among its sequences: the truth adds up to the busy time, jumps or not', () => {
    const workload = fc.array(
      fc.record({
        arrival: fc.integer({ min: 0, max: 20_000 }),
        prompt: fc.integer({ min: 1, max: 3000 }),
        target: fc.integer({ min: 0, max: 300 }),
        cached: fc.integer({ min: 0, max: 3000 }),
      }),
      { minLength: 1, maxLength: 30 },
    );
    fc.assert(
      fc.property(workload, fc.integer({ min: 4000, max: 40_000 }), (w, kv) => {
        const build = (): EngineRequest[] =>
          [...w]
            .sort((a, b) => a.arrival - b.arrival)
            .map((x) => req(x.arrival, x.prompt, x.target, Math.min(x.cached, x.prompt)));
        const fast = run(build(), { kvCacheTokens: kv });
        const slow = run(build(), { kvCacheTokens: kv }, { stepwise: true });
        const total = fast.spans.reduce((a, s) => a + spanMs(s), 0);
        const sum = fast.done.reduce((a, r) => a + r.gpuMs, 0);
        expect(Math.abs(sum - total)).toBeLessThan(1e-6 * Math.max(1, total));
        expect(fast.done.map((r) => r.finishedAt)).toEqual(
          slow.done.map((r) => expect.closeTo(r.finishedAt, 6) as unknown as number),
        );
        for (const r of fast.done) expect(r.produced).toBe(r.target);
      }),
      { numRuns: 60 },
    );
  });
});
