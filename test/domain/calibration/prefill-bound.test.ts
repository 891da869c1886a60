import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventAccumulator } from '../../../src/domain/accumulator.js';
import { calibrate, MAX_PREFILL_BOUND_BROKEN } from '../../../src/domain/calibration/calibrate.js';
import { decodeEquations, prefillBound } from '../../../src/domain/calibration/fit.js';
import { parseRecord } from '../../../src/domain/fast-parse.js';
import { loadPriceCard } from '../../../src/domain/prices.js';
import type { UsageRecord } from '../../../src/domain/records.js';
import { DEFAULT_WEIGHTING, PREFILL_ATTENTION_PER_CONTEXT_TOKEN } from '../../../src/domain/weighting.js';
import { STEP_MS } from '../../../src/simulator/engine.js';
import { simulateDay } from '../../../src/simulator/simulate.js';
import type { VllmLikeCosts } from '../../../src/simulator/vllm-like.js';

const prices = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')));

describe('the prefill bound of a fit', () => {
  it('counts the requests whose prefill window is shorter than their own prefill work', () => {
    const rows = {
      columns: 6,
      x: Float64Array.of(
        ...[1, 0, 0, 0, 1000, 100], // 0.1 ms per token fits
        ...[1, 0, 0, 0, 1000, 50], // only 0.05 does
        ...[1, 0, 0, 0, 10, 20],
      ),
      y: Float64Array.of(1, 1, 1),
    };
    expect(prefillBound(rows, 0.04)).toBe(0);
    expect(prefillBound(rows, 0.08)).toBeCloseTo(1 / 3, 12);
    expect(prefillBound(rows, 0.2)).toBeCloseTo(2 / 3, 12);
    expect(prefillBound(rows, 3)).toBe(1);
    // Equations without the prefill columns hold nothing to check.
    expect(prefillBound({ columns: 4, x: Float64Array.of(1, 0, 0, 0), y: Float64Array.of(1) }, 3)).toBe(0);
  });

  it('takes each request’s uncached prompt and its prefill window, queue left out, from its event', () => {
    const T = 1_795_000_000_000_000;
    const r: UsageRecord = {
      type: 'usage',
      schemaVersion: 1,
      eventId: 'e1',
      requestId: 'r1',
      tenant: 't',
      feature: 'f',
      model: 'm',
      requestClass: 'interactive',
      pod: 'p',
      gpuSku: 'Standard_NC24ads_A100_v4',
      gpuCount: 1,
      startedAt: T,
      firstTokenAt: T + 250_000,
      finishedAt: T + 1_250_000,
      promptTokens: 900,
      completionTokens: 11,
      cachedPromptTokens: 300,
      queueMs: 50,
      status: 'ok',
    } as UsageRecord;
    const { columns, x, y } = decodeEquations([r]);
    expect(y).toHaveLength(1);
    expect(x).toHaveLength(columns);
    // 600 uncached tokens after 300 cached, each weighted for attention over the context before it.
    expect(x[4]).toBeCloseTo(600 * (1 + PREFILL_ATTENTION_PER_CONTEXT_TOKEN * (300 + 600 / 2)), 9);
    expect(x[5]).toBeCloseTo(200, 9);
  });
});

/** The vLLM-like engine's constants of bench/calibration.ts, with a KV cache of `kv` tokens. */
function vllmDay(kv: number) {
  const costs: VllmLikeCosts = {
    base: STEP_MS.base * 1.2,
    prefillPerToken: STEP_MS.prefillPerToken * 0.8,
    attentionPerTokenPair: (((STEP_MS.prefillPerToken * 0.8 * 0.18) / 0.82) * 2) / 6000,
    decodePerToken: STEP_MS.decodePerToken * 1.5,
    perContextToken: STEP_MS.perContextToken * 0.7,
    kvCacheTokens: kv,
  };
  const accumulator = new EventAccumulator(prices);
  for (const event of simulateDay({
    date: '2026-11-22',
    pods: 6,
    seed: 21,
    requests: 30_000,
    variant: {
      models: { 'llama-3.1-8b-instruct': { vllmLike: costs }, 'qwen2.5-14b-instruct': { vllmLike: costs } },
    },
  }))
    accumulator.add(parseRecord(event.json, accumulator.intern));
  return [...calibrate(accumulator.usage(), DEFAULT_WEIGHTING).values()];
}

describe('a fit that the prefill windows cannot hold', () => {
  it('is not used on pods that preempt heavily, and is on the same day with room in the KV cache', () => {
    expect(MAX_PREFILL_BOUND_BROKEN).toBe(0.05);
    const preempting = vllmDay(60_000);
    const roomy = vllmDay(400_000);
    for (const d of roomy) expect(d.source).toBe('fitted');
    expect(preempting.length).toBe(2);
    for (const d of preempting) {
      expect(d.source).toBe('configured');
      expect(d.reason).toMatch(
        /is more than twice what the prefill windows of \d+\.\d% of the requests hold/,
      );
      expect(d.weighting).toBe(DEFAULT_WEIGHTING);
    }
  }, 120_000);
});
