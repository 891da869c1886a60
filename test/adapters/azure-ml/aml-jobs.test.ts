import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { AmlJobs } from '../../../src/adapters/azure-ml/aml-jobs.js';
import { TokenFileCredential } from '../../../src/adapters/azure-ml/token-file-credential.js';
import { ConfigurationError, PermanentError, TransientError } from '../../../src/domain/errors.js';
import { startAmlStandIn, type AmlStandIn } from '../../../dev/aml-stand-in.js';
import { RESOURCE_GROUP, sampleJob, SUBSCRIPTION, WORKSPACE } from '../../helpers/retraining.js';

const fixed = (token: string): TokenCredential => ({
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
});

let standIn: AmlStandIn;

function adapter(credential: TokenCredential = fixed(standIn.token)): AmlJobs {
  return new AmlJobs({
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    workspace: WORKSPACE,
    endpoint: standIn.url,
    credential,
    retry: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 50 },
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

const JOB = sampleJob();
const JOB_PATH = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/workspaces/${WORKSPACE}/jobs/${JOB.name}`;

beforeEach(async () => {
  standIn = await startAmlStandIn();
});

afterEach(async () => {
  await standIn.close();
});

describe('the loopback HTTPS stand-in', () => {
  it('is trusted through NODE_EXTRA_CA_CERTS set by vitest.config.ts, TLS verification on', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request(`${standIn.url}/`, (response) => {
        response.resume();
        resolve(response.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(400); // it answered (no api-version): the handshake verified its certificate
  });
});

describe('AmlJobs against the stand-in', () => {
  it('reads a job that does not exist as undefined', async () => {
    expect(await adapter().get(JOB.name)).toBeUndefined();
  });

  it('creates the job with a PUT under its name, api-version 2022-10-01 and the bearer token', async () => {
    await adapter().create(JOB.name, JOB.body);
    const put = standIn.requests.find((r) => r.method === 'PUT');
    expect([put?.path, put?.apiVersion, put?.authorization]).toEqual([
      JOB_PATH,
      '2022-10-01',
      `Bearer ${standIn.token}`,
    ]);
  });

  it('sends the command job body as the SDK serialises it', async () => {
    await adapter().create(JOB.name, JOB.body);
    const { properties } = standIn.requests.find((r) => r.method === 'PUT')?.body as {
      properties: Record<string, unknown>;
    };
    expect(properties).toMatchObject({
      jobType: 'Command',
      computeId: JOB.body.computeId,
      environmentId: JOB.body.environmentId,
      codeId: JOB.body.codeId,
      command: JOB.body.command,
      distribution: { distributionType: 'PyTorch', processCountPerInstance: 8 },
      resources: { instanceCount: 1 },
      inputs: {
        training_data: {
          jobInputType: 'uri_folder',
          uri: 'azureml:support-qa-train:3',
          mode: 'ReadOnlyMount',
        },
        base_model: {
          jobInputType: 'mlflow_model',
          uri: 'azureml:llama-3.1-8b-instruct:3',
          mode: 'Download',
        },
      },
      outputs: { model: { jobOutputType: 'mlflow_model' } },
      limits: { jobLimitsType: 'Command', timeout: 'PT6H' },
      environmentVariables: { TRAINING_STRATEGY: 'FSDP' },
      tags: JOB.body.tags,
      properties: JOB.body.properties,
    });
  });

  it('returns the created job: Queued, not terminal, with its lineage tags and creation time', async () => {
    const state = await adapter().create(JOB.name, JOB.body);
    expect(state).toMatchObject({ name: JOB.name, status: 'Queued', terminal: false, tags: JOB.body.tags });
    expect(state.createdAt).toBe(standIn.jobs.get(JOB.name)?.createdAt);
  });

  it('reads the job back after creating it, with the status Azure ML moved it to', async () => {
    await adapter().create(JOB.name, JOB.body);
    standIn.finish(JOB.name, 'Completed');
    expect(await adapter().get(JOB.name)).toMatchObject({
      status: 'Completed',
      terminal: true,
      tags: JOB.body.tags,
    });
  });

  it('waits out a 429 for its Retry-After, then succeeds', async () => {
    standIn.fail({ status: 429, retryAfterSeconds: 1 });
    expect(await adapter().get(JOB.name)).toBeUndefined();
    const [throttled, retried] = standIn.requests;
    expect(standIn.requests).toHaveLength(2);
    expect((retried?.at ?? 0) - (throttled?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('gives up on a 503 that persists through the retries with a TransientError', async () => {
    standIn.fail({ status: 503, times: 10 });
    const error = await rejection(adapter().get(JOB.name));
    expect(error).toBeInstanceOf(TransientError);
    expect(standIn.requests).toHaveLength(3); // the first try and maxRetries 2
  });

  it('gives up on a 500 that persists with a TransientError', async () => {
    standIn.fail({ status: 500, times: 10 });
    expect(await rejection(adapter().create(JOB.name, JOB.body))).toBeInstanceOf(TransientError);
  });

  it('refuses a wrong token with a PermanentError that does not carry the token', async () => {
    const error = await rejection(adapter(fixed('wrong-secret-token')).get(JOB.name));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('401');
    expect(error.message).not.toContain('wrong-secret-token');
  });

  it('turns a 409 on create into a PermanentError', async () => {
    standIn.conflictOnPut(true);
    const error = await rejection(adapter().create(JOB.name, JOB.body));
    expect([error instanceof PermanentError, error.message]).toEqual([
      true,
      `Azure ML create job ${JOB.name}: 409 Conflict: Job ${JOB.name} is being modified by another request`,
    ]);
  });

  it("turns a 400 into a PermanentError with the service's message", async () => {
    const body = {
      ...JOB.body,
      distribution: { distributionType: 'PyTorch' as const, processCountPerInstance: 0 },
    };
    const error = await rejection(adapter().create(JOB.name, body));
    expect([error instanceof PermanentError, error.message]).toEqual([
      true,
      `Azure ML create job ${JOB.name}: 400 UserError: properties.distribution.processCountPerInstance: must be >= 1`,
    ]);
  });

  it('cancels a job: the POST, then one read of the operation, and the job reads Canceled', async () => {
    await adapter().create(JOB.name, JOB.body);
    await adapter().cancel(JOB.name);
    expect(
      standIn.requests.slice(1).map((r) => `${r.method} ${r.path.split('/').slice(-2).join('/')}`),
    ).toEqual([`POST ${JOB.name}/cancel`, expect.stringMatching(/^GET operationResults\//)]);
    expect((await adapter().get(JOB.name))?.status).toBe('Canceled');
  });

  it('returns from cancel without waiting for the job to stop', async () => {
    await standIn.close();
    standIn = await startAmlStandIn({ cancelSettles: false });
    await adapter().create(JOB.name, JOB.body);
    await adapter().cancel(JOB.name);
    expect((await adapter().get(JOB.name))?.status).toBe('CancelRequested');
  });

  it('turns an unreachable endpoint into a TransientError', async () => {
    await standIn.close();
    const error = await rejection(adapter().get(JOB.name));
    standIn = await startAmlStandIn();
    expect(error).toBeInstanceOf(TransientError);
  });

  it('authenticates with the token of an AZURE_ARM_TOKEN_FILE', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'arm-token-')), 'token.json');
    writeFileSync(file, JSON.stringify({ accessToken: standIn.token, expires_on: Date.now() / 1000 + 3600 }));
    await adapter(new TokenFileCredential(file)).get(JOB.name);
    expect(standIn.requests[0]?.authorization).toBe(`Bearer ${standIn.token}`);
  });

  it('passes on the ConfigurationError of an unreadable token file, sending nothing', async () => {
    const error = await rejection(adapter(new TokenFileCredential('/nonexistent/token.json')).get(JOB.name));
    expect([error instanceof ConfigurationError, standIn.requests.length]).toEqual([true, 0]);
  });
});
