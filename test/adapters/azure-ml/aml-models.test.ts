import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { AmlModels } from '../../../src/adapters/azure-ml/aml-models.js';
import { PermanentError, TransientError } from '../../../src/domain/errors.js';
import type { JobState } from '../../../src/ports/retraining-jobs.js';
import { registerJobOutput } from '../../../src/usecases/quality/register.js';
import { startAmlStandIn, type AmlStandIn } from '../../../dev/aml-stand-in.js';
import { RESOURCE_GROUP, sampleJob, SUBSCRIPTION, WORKSPACE } from '../../helpers/retraining.js';

const fixed = (token: string): TokenCredential => ({
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
});

let standIn: AmlStandIn;
const registry = (): AmlModels =>
  new AmlModels({
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    workspace: WORKSPACE,
    endpoint: standIn.url,
    credential: fixed(standIn.token),
    retry: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
  });

const JOB = sampleJob();
const completed: JobState = { name: JOB.name, status: 'Completed', terminal: true, tags: JOB.body.tags };
const VERSION_PATH = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/workspaces/${WORKSPACE}/models/llama-3.1-8b-instruct/versions/8`;

beforeEach(async () => {
  standIn = await startAmlStandIn();
});
afterEach(async () => {
  await standIn.close();
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('registering a completed job on the stand-in', () => {
  it('PUTs the version with the job output as modelUri and the lineage as tags and properties', async () => {
    const outcome = await registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8');
    expect(outcome.registered?.modelUri).toBe(`azureml://jobs/${JOB.name}/outputs/model`);
    expect(outcome).toMatchObject({ created: true });
    const put = standIn.requests.find((r) => r.method === 'PUT');
    expect(put?.path).toBe(VERSION_PATH);
    expect(put?.apiVersion).toBe('2022-10-01');
    const body = put?.body as { properties: Record<string, unknown> };
    expect(body.properties.modelType).toBe('mlflow_model');
    expect(body.properties.jobName).toBe(JOB.name);
    const tags = body.properties.tags as Record<string, string>;
    expect(tags).toMatchObject({
      retrainingJob: JOB.name,
      retrainedFromVersion: '7',
      codeCommit: '0a1b2c3',
      evaluation: 'eval-0042',
      evaluationDataset: 'support-qa@3',
      computeSku: JOB.body.tags.computeSku,
      trainingDataName: JOB.body.tags.trainingDataName,
      trainingDataVersion: JOB.body.tags.trainingDataVersion,
      gateReasons: 'exact_match 0.74 < min 0.78',
    });
    expect(body.properties.properties).toEqual(tags);
  });

  it('registers once: a second registration reads the version and PUTs nothing', async () => {
    await registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8');
    const again = await registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8');
    expect(again).toMatchObject({ created: false });
    expect(standIn.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect(standIn.models.size).toBe(1);
  });

  it('retries a 500 and registers one version', async () => {
    standIn.fail({ status: 500, times: 1 });
    const outcome = await registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8');
    expect(outcome.registered).not.toBeNull();
    expect(standIn.models.size).toBe(1);
  });

  it('a 500 that persists is a TransientError, and a retry afterwards registers one version', async () => {
    standIn.fail({ status: 500, times: 2 }); // the first try and its one retry
    const error = await rejection(registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8'));
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toContain('500');
    expect(error.message).not.toContain(standIn.token);
    const outcome = await registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8');
    expect(outcome).toMatchObject({ created: true });
    expect(standIn.models.size).toBe(1);
  });

  it('a 409 Conflict is a PermanentError naming the version; after it clears the retry registers', async () => {
    standIn.conflictOnPut(true);
    const error = await rejection(registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8'));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toMatch(/409.*Conflict/);
    expect(error.message).toContain('llama-3.1-8b-instruct version 8');
    expect(standIn.models.size).toBe(0);
    standIn.conflictOnPut(false);
    const outcome = await registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8');
    expect(outcome).toMatchObject({ created: true });
  });

  it('get reads a version back and answers undefined for one that is not there', async () => {
    await registerJobOutput(registry(), completed, 'llama-3.1-8b-instruct', '8');
    expect((await registry().get('llama-3.1-8b-instruct', '8'))?.jobName).toBe(JOB.name);
    expect(await registry().get('llama-3.1-8b-instruct', '9')).toBeUndefined();
  });

  for (const status of ['Failed', 'Canceled']) {
    it(`a ${status} job registers nothing and says why`, async () => {
      const outcome = await registerJobOutput(
        registry(),
        { ...completed, status },
        'llama-3.1-8b-instruct',
        '8',
      );
      expect(outcome).toEqual({
        registered: null,
        reason: `job ${JOB.name} is ${status}: nothing to register`,
      });
      expect(standIn.requests).toHaveLength(0);
    });
  }
});
