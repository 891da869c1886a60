import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvaluateQuality } from '../../functions/evaluateQuality.js';
import { makeQualityTimer } from '../../functions/qualityTimer.js';
import { startAmlStandIn, type AmlStandIn } from '../../dev/aml-stand-in.js';
import { invoke } from '../../dev/event-hub-delivery.js';
import { quietContext, TIMER } from '../../dev/functions-runtime.js';
import { followDeps, qualityDeps, type Services } from '../../src/composition/composition.js';
import { isolatedServices } from '../helpers/storage.js';

/**
 * The quality functions as deployed, but for the host: Table Storage on Azurite for the history and
 * the retraining records, the real Azure ML SDK against the HTTPS stand-in. What the memory tests
 * show with interleaved promises, this shows with real conditional writes.
 */
let aml: AmlStandIn;
let dir: string;
const NOW = new Date('2026-11-20T06:00:00Z');

beforeAll(async () => {
  aml = await startAmlStandIn({ now: () => NOW });
  dir = await mkdtemp(join(tmpdir(), 'quality-azure-'));
});

afterAll(async () => {
  await aml.close();
});

async function services(): Promise<Services> {
  const tokenFile = join(dir, `token-${Math.random()}.json`);
  await writeFile(
    tokenFile,
    JSON.stringify({ accessToken: aml.token, expiresOn: '2099-01-01 00:00:00.000000' }),
  );
  const ws = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';
  return isolatedServices(undefined, () => NOW, {
    AML_SUBSCRIPTION_ID: 's',
    AML_RESOURCE_GROUP: 'rg',
    AML_WORKSPACE: 'ws',
    AML_COMPUTE: 'a100',
    AML_ENVIRONMENT_ID: `${ws}/environments/train/versions/1`,
    AML_CODE_ID: `${ws}/codes/train/versions/1`,
    RETRAIN_MAX_USD: '500',
    AZURE_ARM_ENDPOINT: aml.url,
    AZURE_ARM_TOKEN_FILE: tokenFile,
  });
}

const failing = (eventId: string, evaluatedAt: string) => ({
  type: 'evaluation',
  schemaVersion: 1,
  eventId,
  model: 'qwen2.5-14b-instruct',
  modelVersion: '4',
  dataset: 'regression-suite@2',
  metrics: { exact_match: 0.5, f1: 0.8, toxicity: 0.001 },
  evaluatedAt,
});

const putsFor = (model: string) =>
  aml.requests.filter((r) => r.method === 'PUT' && r.path.includes(`/jobs/retrain-${model}`)).length;

describe('evaluateQuality and qualityTimer on Azurite with the Azure ML stand-in', () => {
  it('two batches failing at once on two partitions, then both redelivered: one job', async () => {
    const s = await services();
    const handler = makeEvaluateQuality(() => Promise.resolve(qualityDeps(s, { log: () => undefined })));
    const a = [
      { body: failing('a', '2026-11-20T05:00:00Z'), sequenceNumber: 1, enqueuedTime: NOW.toISOString() },
    ];
    const b = [
      { body: failing('b', '2026-11-20T05:00:00Z'), sequenceNumber: 1, enqueuedTime: NOW.toISOString() },
    ];
    await Promise.all([invoke(handler, '0', a), invoke(handler, '1', b)]);
    await Promise.all([invoke(handler, '0', a), invoke(handler, '1', b)]);
    expect(putsFor('qwen2-5-14b-instruct')).toBe(1);
    const jobs = await s.retrainingStore.jobs();
    expect(jobs.map((j) => j.status)).toEqual(['Queued']);
    expect(await s.quality.evaluations('qwen2.5-14b-instruct')).toHaveLength(2);
  });

  it('the timer follows the job to its end and records its cost', async () => {
    const s = await services();
    await invoke(
      makeEvaluateQuality(() => Promise.resolve(qualityDeps(s, { log: () => undefined }))),
      '0',
      [
        {
          body: {
            ...failing('c', '2026-11-20T05:30:00Z'),
            model: 'llama-3.2-1b-instruct',
            dataset: 'regression-suite@2',
          },
          sequenceNumber: 1,
          enqueuedTime: NOW.toISOString(),
        },
      ],
    );
    const [job] = await s.retrainingStore.jobs();
    if (job === undefined) throw new Error('no job was submitted');
    const timer = makeQualityTimer(() => {
      const follow = followDeps(s, { log: () => undefined });
      return Promise.resolve({
        quality: qualityDeps(s, { log: () => undefined }),
        ...(follow === undefined ? {} : { follow }),
      });
    });
    aml.finish(job.name, 'Running');
    await timer(TIMER, quietContext());
    aml.finish(job.name, 'Completed');
    await timer(TIMER, quietContext());
    const ended = (await s.retrainingStore.job(job.name))?.value;
    expect(ended?.status).toBe('Completed');
    expect(ended?.endedAt).toBe(NOW.toISOString());
    expect((await s.ledger.dirtyDays('2026-11-01')).map((d) => d.day)).toContain('2026-11-20');
  });
});
