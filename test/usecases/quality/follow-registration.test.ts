import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { startAmlStandIn, type AmlStandIn } from '../../../dev/aml-stand-in.js';
import { AmlModels } from '../../../src/adapters/azure-ml/aml-models.js';
import { followJobs } from '../../../src/usecases/quality/follow.js';
import { retrainOnFailure } from '../../../src/usecases/quality/retrain.js';
import { RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE } from '../../helpers/retraining.js';
import { cardTitles, failedOnQuality, retrainSetup } from './fixture.js';

const HOUR = 3_600_000;
let standIn: AmlStandIn;

beforeEach(async () => {
  standIn = await startAmlStandIn();
});
afterEach(async () => {
  await standIn.close();
});

const credential = (token: string): TokenCredential => ({
  getToken: (): Promise<AccessToken> => Promise.resolve({ token, expiresOnTimestamp: Date.now() + HOUR }),
});

/** A job followed to Completed, with the real ARM client for the registry, against the stand-in. */
async function completedJob() {
  const setup = retrainSetup();
  const outcome = await retrainOnFailure(failedOnQuality(), setup.deps);
  const name = outcome.job?.name;
  if (name === undefined) throw new Error(`no job: ${outcome.reason ?? ''}`);
  const registry = new AmlModels({
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    workspace: WORKSPACE,
    endpoint: standIn.url,
    credential: credential(standIn.token),
    retry: { maxRetries: 0, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
  });
  const deps = { ...setup.deps, registry, registrationAttempts: 3 };
  setup.jobs.advance(name, 'Running');
  await followJobs(deps);
  setup.clock.advance(HOUR);
  setup.jobs.advance(name, 'Completed');
  return { ...setup, deps, name };
}

const puts = (): number => standIn.requests.filter((r) => r.method === 'PUT').length;

describe('registering a completed job on later follows', () => {
  it('a registration that fails is tried again on the next follow and then registers', async () => {
    const { deps, store, name } = await completedJob();
    standIn.fail({ status: 503, times: 1 });
    const first = await followJobs(deps);
    expect(first.ended).toEqual([name]);
    expect(first.registered).toEqual([]);
    expect((await store.job(name))?.value.registration).toMatchObject({
      state: 'pending',
      attempts: 1,
      reason: expect.stringContaining('503') as string,
    });
    expect(standIn.models.size).toBe(0);
    const second = await followJobs(deps);
    expect(second.registered).toEqual([name]);
    expect((await store.job(name))?.value.registration).toMatchObject({
      state: 'registered',
      version: name,
      attempts: 2,
    });
    expect(standIn.models.size).toBe(1);
    await followJobs(deps);
    expect(puts()).toBe(1);
  });

  it('a registration whose answer was lost is found on the retry, not made twice', async () => {
    const { deps, store, name } = await completedJob();
    const reads = standIn.requests.length;
    // The GET (absent) answers; the PUT is carried out but its answer is a 500.
    await followJobs({ ...deps, registry: lossy(deps.registry) });
    expect(standIn.requests.length).toBeGreaterThan(reads);
    expect(standIn.models.size).toBe(1);
    expect((await store.job(name))?.value.registration?.state).toBe('pending');
    const again = await followJobs(deps);
    expect(again.registered).toEqual([name]);
    expect(puts()).toBe(1);
    expect(standIn.models.size).toBe(1);
  });

  it('after the last attempt the job is recorded as not registered, with the reason, and Teams is told once', async () => {
    const { deps, store, name, posted } = await completedJob();
    standIn.conflictOnPut(true);
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await followJobs(deps));
    expect(outcomes.map((o) => o.notRegistered)).toEqual([[], [], [name], [], []]);
    const registration = (await store.job(name))?.value.registration;
    expect(registration).toMatchObject({ state: 'failed', attempts: 3 });
    expect(registration?.reason).toMatch(/not registered after 3 attempts; the last: .*409/);
    expect(puts()).toBe(3);
    const notices = cardTitles(posted).filter((t) => t.includes('not registered'));
    expect(notices).toEqual([expect.stringContaining('Retrained model not registered: llama-3-8b')]);
    expect(JSON.stringify(posted.at(-1))).toContain('409');
    standIn.conflictOnPut(false);
    await followJobs(deps);
    expect(standIn.models.size).toBe(0);
  });

  it('a version already registered from another job is refused at once, with the reason', async () => {
    const { deps, store, name } = await completedJob();
    await deps.registry.create('llama-3-8b', name, {
      properties: {
        description: 'registered by hand',
        modelUri: 'azureml://jobs/another/outputs/model',
        modelType: 'mlflow_model',
        jobName: 'another',
        tags: {},
        properties: {},
      },
    });
    const outcome = await followJobs(deps);
    expect(outcome.notRegistered).toEqual([name]);
    expect((await store.job(name))?.value.registration).toMatchObject({
      state: 'failed',
      attempts: 1,
      reason: expect.stringContaining('already registered from job another') as string,
    });
  });
});

/** The registry whose create carries out the PUT and then loses its answer, once. */
function lossy(registry: AmlModels): AmlModels {
  let lost = false;
  return new Proxy(registry, {
    get(target, key, receiver) {
      if (key !== 'create' || lost) return Reflect.get(target, key, receiver) as unknown;
      return async (...args: Parameters<AmlModels['create']>) => {
        lost = true;
        standIn.fail({ status: 500, times: 1, afterHandling: true });
        return target.create(...args);
      };
    },
  });
}
