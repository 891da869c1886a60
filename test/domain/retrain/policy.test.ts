import { describe, expect, it } from 'vitest';
import { abandon, decide, release, usd, type RetrainLimits } from '../../../src/domain/retrain/policy.js';
import { EMPTY_STATE, type RetrainingState } from '../../../src/domain/retrain/record.js';

const LIMITS: RetrainLimits = {
  maxJobMicroUsd: 500_000_000,
  monthlyBudgetMicroUsd: 1_000_000_000,
  cooldownMs: 24 * 3_600_000,
};
const NOW = new Date('2026-11-20T10:00:00Z');
const request = (over: Partial<Parameters<typeof decide>[1]> = {}) => ({
  model: 'llama',
  job: 'retrain-llama-a',
  estimateMicroUsd: 100_000_000,
  now: NOW,
  ...over,
});

describe('decide', () => {
  it('submits into an empty state, holding the slot and reserving the estimate in the month', () => {
    const d = decide(EMPTY_STATE, request(), LIMITS);
    expect(d.kind).toBe('submit');
    if (d.kind !== 'submit') return;
    expect(d.state.models.llama?.job).toBe('retrain-llama-a');
    expect(d.state.months['2026-11']).toBe(100_000_000);
  });

  it('refuses a second job for a model whose job is still running', () => {
    const held = decide(EMPTY_STATE, request(), LIMITS);
    if (held.kind !== 'submit') throw new Error('expected submit');
    const d = decide(held.state, request({ job: 'retrain-llama-b' }), LIMITS);
    expect(d.kind).toBe('busy');
  });

  it('resumes when the slot is held by this very job (a submission cut short)', () => {
    const held = decide(EMPTY_STATE, request(), LIMITS);
    if (held.kind !== 'submit') throw new Error('expected submit');
    expect(decide(held.state, request(), LIMITS).kind).toBe('resume');
  });

  it('lets another model submit while one model is busy', () => {
    const held = decide(EMPTY_STATE, request(), LIMITS);
    if (held.kind !== 'submit') throw new Error('expected submit');
    expect(decide(held.state, request({ model: 'mistral', job: 'retrain-mistral-a' }), LIMITS).kind).toBe(
      'submit',
    );
  });

  it('cools down after a job ended, and allows a new one once the cooldown is over', () => {
    const state: RetrainingState = {
      models: {
        llama: {
          job: 'old',
          since: '2026-11-19T00:00:00Z',
          endedAt: '2026-11-20T00:00:00Z',
          month: '2026-11',
          estimateMicroUsd: 1,
        },
      },
      months: {},
    };
    const during = decide(state, request(), LIMITS);
    expect(during.kind).toBe('cooldown');
    if (during.kind === 'cooldown') expect(during.reason).toContain('2026-11-21T00:00:00.000Z');
    expect(decide(state, request({ now: new Date('2026-11-21T00:00:01Z') }), LIMITS).kind).toBe('submit');
  });

  it('refuses a job above the per-job limit, naming the estimate and the limit', () => {
    const d = decide(EMPTY_STATE, request({ estimateMicroUsd: 500_000_001 }), LIMITS);
    expect(d.kind).toBe('refuse');
    if (d.kind === 'refuse')
      expect(d.reason).toMatch(/\$500\.00 exceeds the per-job limit RETRAIN_MAX_USD of \$500\.00/);
  });

  it("refuses a job above what is left of the month's budget", () => {
    const state: RetrainingState = { models: {}, months: { '2026-11': 950_000_000 } };
    const d = decide(state, request(), LIMITS);
    expect(d.kind).toBe('refuse');
    if (d.kind === 'refuse') expect(d.reason).toContain('$50.00 of $1000.00');
  });

  it("does not count last month's spend against this month", () => {
    const state: RetrainingState = { models: {}, months: { '2026-10': 1_000_000_000 } };
    expect(decide(state, request(), LIMITS).kind).toBe('submit');
  });
});

describe('release and abandon', () => {
  it('release marks the slot ended and swaps the estimate for the cost', () => {
    const held = decide(EMPTY_STATE, request(), LIMITS);
    if (held.kind !== 'submit') throw new Error('expected submit');
    const next = release(held.state, {
      model: 'llama',
      job: 'retrain-llama-a',
      endedAt: '2026-11-20T12:00:00Z',
      month: '2026-11',
      estimateMicroUsd: 100_000_000,
      costMicroUsd: 40_000_000,
    });
    expect(next.models.llama?.endedAt).toBe('2026-11-20T12:00:00Z');
    expect(next.months['2026-11']).toBe(40_000_000);
  });

  it('abandon frees the slot and gives the reservation back', () => {
    const held = decide(EMPTY_STATE, request(), LIMITS);
    if (held.kind !== 'submit') throw new Error('expected submit');
    const next = abandon(held.state, 'llama', 'retrain-llama-a');
    expect(next.models.llama).toBeUndefined();
    expect(next.months['2026-11']).toBe(0);
  });

  it('abandon leaves a slot held by another job alone', () => {
    const held = decide(EMPTY_STATE, request(), LIMITS);
    if (held.kind !== 'submit') throw new Error('expected submit');
    expect(abandon(held.state, 'llama', 'someone-else')).toBe(held.state);
  });
});

it('usd rounds micro-USD to the cent', () => {
  expect(usd(12_345_678)).toBe('$12.35');
});
