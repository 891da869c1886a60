import { describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/domain/records.js';
import { DEFAULT_WEIGHTING, phaseRates, prefillWork, type Weighting } from '../../src/domain/weighting.js';

const request = { promptTokens: 1000, cachedPromptTokens: 200, completionTokens: 11 } as UsageRecord;

describe('prefill attention in the step-cost weighting', () => {
  it('counts each uncached token once plus its attention over the tokens before it', () => {
    expect(prefillWork(800, 200, 0)).toBe(800);
    // 800 tokens after 200 cached: 800 x (200 + 400) pairs on average.
    expect(prefillWork(800, 200, 1e-4)).toBeCloseTo(800 * (1 + 1e-4 * 600), 9);
    // Two chunks of 400 (at offsets 200 and 600) cost what the whole prompt does.
    const chunks = 400 * (1 + 1e-4 * (200 + 200)) + 400 * (1 + 1e-4 * (600 + 200));
    expect(prefillWork(800, 200, 1e-4)).toBeCloseTo(chunks, 9);
  });

  it('raises the prefill rate by the attention term and leaves decode and the default as they were', () => {
    const withAttention: Weighting = {
      ...DEFAULT_WEIGHTING,
      prefillAttentionPerContextToken: 1e-4,
    } as Weighting;
    const plain = phaseRates(DEFAULT_WEIGHTING, request, 200_000, 500_000);
    const attended = phaseRates(withAttention, request, 200_000, 500_000);
    if (DEFAULT_WEIGHTING.kind !== 'step-cost') throw new Error('the default is step-cost');
    expect(plain.prefill).toBeCloseTo((800 * DEFAULT_WEIGHTING.prefillMsPerToken * 1000) / 200_000, 12);
    expect(attended.prefill / plain.prefill).toBeCloseTo(1 + 1e-4 * 600, 12);
    expect(attended.decode).toBe(plain.decode);
  });
});
