import { describe, expect, it } from 'vitest';
import { TransientError } from '../../../src/domain/errors.js';
import type { Judgement } from '../../../src/domain/gate/verdict.js';
import { retrainOnFailure } from '../../../src/usecases/quality/retrain.js';
import { cardTitles, ESTIMATE_MICRO_USD, evaluation, failedOnQuality, retrainSetup } from './fixture.js';

describe('retrainOnFailure', () => {
  it('submits one job for a gate failed on quality, records it and says so in Teams', async () => {
    const { deps, jobs, store, posted } = retrainSetup();
    const outcome = await retrainOnFailure(failedOnQuality(), deps);
    expect(outcome.job).toMatchObject({ status: expect.any(String), estimatedCostUsd: 117.54 });
    const name = outcome.job?.name ?? '';
    expect(await jobs.get(name)).toBeDefined();
    expect((await store.job(name))?.value).toMatchObject({ status: 'Queued', notified: ['submitted'] });
    expect(cardTitles(posted)).toEqual([expect.stringContaining('Retraining started: llama-3-8b')]);
  });

  it('submits nothing for a redelivered failure: the same job, one create, one post', async () => {
    const { deps, jobs, posted } = retrainSetup();
    const first = await retrainOnFailure(failedOnQuality(), deps);
    const again = await retrainOnFailure(failedOnQuality(), deps);
    expect(again.job?.name).toBe(first.job?.name);
    expect(jobs.creates).toBe(1);
    expect(posted).toHaveLength(1);
  });

  it('starts one job when two different evaluations fail at once', async () => {
    const { deps, jobs } = retrainSetup();
    const [a, b] = await Promise.all([
      retrainOnFailure(failedOnQuality(evaluation({ eventId: 'eval-a' })), deps),
      retrainOnFailure(failedOnQuality(evaluation({ eventId: 'eval-b' })), deps),
    ]);
    expect(jobs.creates).toBe(1);
    expect([a.job, b.job].filter((j) => j !== null)).toHaveLength(1);
    expect([a.reason, b.reason].join(' ')).toMatch(/still running/);
  });

  it('finishes a submission cut short after Azure ML took the job, without a second job', async () => {
    const { deps, jobs, store } = retrainSetup();
    const create = jobs.create.bind(jobs);
    let dropped = false;
    jobs.create = async (name, body) => {
      const state = await create(name, body);
      if (!dropped) {
        dropped = true;
        throw new TransientError('connection reset after the PUT was accepted');
      }
      return state;
    };
    const first = await retrainOnFailure(failedOnQuality(), deps);
    expect(first.job?.status).toBe('Submitting');
    const second = await retrainOnFailure(failedOnQuality(), deps);
    expect(jobs.creates).toBe(1);
    expect(second.job?.status).toBe('Queued');
    expect((await store.jobs()).map((r) => r.status)).toEqual(['Queued']);
  });

  it('refuses a job estimated above RETRAIN_MAX_USD, with a Teams notice naming the estimate, once', async () => {
    const { deps, jobs, posted } = retrainSetup({ maxJobUsd: 100 });
    const outcome = await retrainOnFailure(failedOnQuality(), deps);
    expect(outcome.job).toBeNull();
    expect(outcome.reason).toMatch(/\$117\.54 exceeds the per-job limit RETRAIN_MAX_USD of \$100\.00/);
    await retrainOnFailure(failedOnQuality(), deps);
    expect(jobs.creates).toBe(0);
    expect(cardTitles(posted)).toEqual([expect.stringContaining('Retraining refused')]);
    expect(JSON.stringify(posted[0])).toContain('$117.54');
  });

  it("refuses a job above what is left of the month's budget", async () => {
    const { deps, jobs, store } = retrainSetup();
    await store.putState(
      { models: {}, months: { '2026-11': 1000 * 1_000_000 - ESTIMATE_MICRO_USD + 1 } },
      undefined,
    );
    const outcome = await retrainOnFailure(failedOnQuality(), deps);
    expect(outcome.reason).toMatch(/left of 2026-11's retraining budget/);
    expect(jobs.creates).toBe(0);
  });

  it('does not retrain a gate that failed for want of evidence', async () => {
    const { deps, jobs } = retrainSetup();
    const stale: Judgement = {
      ...failedOnQuality(),
      failures: [{ kind: 'evidence', reason: 'the latest evaluation is 40 h old; the limit is 36 h' }],
    };
    expect((await retrainOnFailure(stale, deps)).job).toBeNull();
    expect(jobs.creates).toBe(0);
  });

  it('keeps a job Azure ML could not be reached for as Submitting, for the follow to finish', async () => {
    const { deps, jobs, store } = retrainSetup();
    jobs.create = () => Promise.reject(new TransientError('503 after retries'));
    const outcome = await retrainOnFailure(failedOnQuality(), deps);
    expect(outcome.job?.status).toBe('Submitting');
    expect((await store.jobs())[0]?.status).toBe('Submitting');
  });
});
