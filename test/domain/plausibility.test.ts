import { describe, expect, it } from 'vitest';
import { at, capacity, DEFAULT_WEIGHTING, rowOf, runDay, usage } from '../helpers/events.js';

// Two requests share a pod for 10 s; the honest one is in decode throughout.
const honest = usage({
  tenant: 'honest',
  startedAt: at(0),
  firstTokenAt: at(0.1),
  finishedAt: at(10),
  promptTokens: 500,
  completionTokens: 400,
});
const window = capacity({ windowStart: at(0), windowEnd: at(10) });
const beside = (fields: Record<string, unknown>) =>
  runDay([window, honest, usage({ tenant: 'absurd', startedAt: at(0), finishedAt: at(10), ...fields })], {
    weighting: DEFAULT_WEIGHTING,
  });

describe('implausible token counts (what the allocation trusts)', () => {
  it('rejects 10^15 tokens with a reason, so they take nothing from the request beside them', () => {
    const report = beside({ firstTokenAt: at(5), promptTokens: 1e15, completionTokens: 10 });
    expect(report.rejections).toEqual([
      'promptTokens + completionTokens: 1000000000000010 is more than the 2000000 one request can hold',
    ]);
    expect(rowOf(report, 'honest').costUsd).toBe('0.010000');
  });

  it('rejects a prompt no GPU could prefill in the time the request took', () => {
    const report = beside({ firstTokenAt: at(0.001), promptTokens: 1_000_000, completionTokens: 10 });
    expect(report.rejections).toEqual([
      'promptTokens: 1000000 uncached tokens in 0.001 s of prefill is more than 500000 per second per GPU',
    ]);
  });

  it('rejects more completion tokens than any decode could produce in its time', () => {
    const report = beside({ firstTokenAt: at(9.9), promptTokens: 10, completionTokens: 1_000_000 });
    expect(report.rejections[0]).toMatch(/^completionTokens: 1000000 in 0\.1 s of decode is more than 50000/);
  });

  it('accepts a long, fast but possible request and lets it share the time', () => {
    const report = beside({ firstTokenAt: at(2), promptTokens: 200_000, completionTokens: 2000 });
    expect(report.rejections).toEqual([]);
    expect(Number(rowOf(report, 'absurd').costUsd)).toBeGreaterThan(0);
  });
});
