import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, PermanentError } from '../../../src/domain/errors.js';
import { loadPriceCard } from '../../../src/domain/prices.js';
import {
  parseRetrainingConfig,
  retrainingFor,
  type ModelRetraining,
} from '../../../src/domain/retrain/config.js';
import { jobName } from '../../../src/domain/retrain/job-name.js';
import {
  buildRetrainingJob,
  computeIdFor,
  isoHours,
  truncate,
  type RetrainingJobInput,
} from '../../../src/domain/retrain/job-spec.js';
import { parseTimestamp } from '../../../src/domain/timestamp.js';

const prices = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')));
const config = parseRetrainingConfig(JSON.parse(readFileSync('rules/retraining.json', 'utf8')));
const COMPUTE =
  '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/a100';

function entry(model: string): ModelRetraining {
  const found = retrainingFor(config, model);
  if (found === undefined) throw new Error(`rules/retraining.json has no ${model}`);
  return found;
}

const input: RetrainingJobInput = {
  failure: {
    model: 'llama-3.1-8b-instruct',
    modelVersion: '7',
    dataset: 'support-qa@3',
    evaluation: 'eval-0042',
    commit: '0a1b2c3',
    reasons: ['exact_match 0.74 < min 0.78', 'toxicity 0.02 > max 0.01'],
  },
  retraining: entry('llama-3.1-8b-instruct'),
  config,
  target: {
    computeId: COMPUTE,
    computeSku: config.computeSku,
    environmentId: 'azureml:train-env:4',
    codeId: '/subscriptions/sub/.../codes/train/versions/9',
  },
  prices,
  at: parseTimestamp('2026-03-01T00:00:00Z') ?? 0,
};

describe('buildRetrainingJob', () => {
  const job = buildRetrainingJob(input);

  it('is named from the failure', () => {
    expect(job.name).toBe(jobName(input.failure));
  });

  it('is a command job on the target compute, environment and code', () => {
    const { jobType, computeId, environmentId, codeId, command } = job.body;
    expect({ jobType, computeId, environmentId, codeId, command }).toEqual({
      jobType: 'Command',
      computeId: COMPUTE,
      environmentId: 'azureml:train-env:4',
      codeId: '/subscriptions/sub/.../codes/train/versions/9',
      command: input.retraining.command,
    });
  });

  it('runs one PyTorch process per GPU of the SKU (8 on ND96asr) on each configured node', () => {
    expect(config.computeSku).toBe('Standard_ND96asr_v4');
    expect([job.body.distribution, job.body.resources]).toEqual([
      { distributionType: 'PyTorch', processCountPerInstance: 8 },
      { instanceCount: 1 },
    ]);
    const twoNodes = buildRetrainingJob({ ...input, retraining: entry('qwen2.5-14b-instruct') });
    expect(twoNodes.body.resources.instanceCount).toBe(2);
  });

  it('shards the 8B model (FSDP) and tells the script so', () => {
    expect([job.strategy, job.body.environmentVariables.TRAINING_STRATEGY]).toEqual(['FSDP', 'FSDP']);
  });

  it("hands the script the lineage its MLflow run and model are tagged with, the job's own tags the same", () => {
    const env = job.body.environmentVariables;
    expect({
      commit: env.CODE_COMMIT,
      evaluation: env.EVALUATION_ID,
      data: `${env.TRAINING_DATA_NAME}:${env.TRAINING_DATA_VERSION}`,
      sku: env.COMPUTE_SKU,
    }).toEqual({
      commit: job.body.tags.codeCommit,
      evaluation: job.body.tags.evaluation,
      data: 'support-qa-train:3',
      sku: 'Standard_ND96asr_v4',
    });
    expect(env.EVALUATION_ID).not.toBe('');
  });

  it('replicates the 1B model (DDP) on one node', () => {
    const small = buildRetrainingJob({ ...input, retraining: entry('llama-3.2-1b-instruct') });
    expect([small.strategy, small.body.resources.instanceCount]).toEqual(['DDP', 1]);
  });

  it('mounts the training data asset and downloads the base model', () => {
    expect(job.body.inputs).toEqual({
      training_data: { jobInputType: 'uri_folder', uri: 'azureml:support-qa-train:3', mode: 'ReadOnlyMount' },
      base_model: { jobInputType: 'mlflow_model', uri: 'azureml:llama-3.1-8b-instruct:3', mode: 'Download' },
    });
  });

  it('writes an MLflow model', () => {
    expect(job.body.outputs).toEqual({ model: { jobOutputType: 'mlflow_model' } });
  });

  it('stops the job at the configured timeout', () => {
    expect(job.body.limits).toEqual({ jobLimitsType: 'Command', timeout: 'PT6H' });
  });

  it('estimates 1 node x 4 h x $27.197 = $108.788', () => {
    expect(job.estimate).toEqual({ gpusPerInstance: 8, gpuHours: 32, microUsd: 108_788_000 });
  });

  it('carries the lineage in its tags', () => {
    expect(job.body.tags).toMatchObject({
      model: 'llama-3.1-8b-instruct',
      modelVersion: '7',
      codeCommit: '0a1b2c3',
      evaluation: 'eval-0042',
      evaluationDataset: 'support-qa@3',
      evaluationDatasetName: 'support-qa',
      evaluationDatasetVersion: '3',
      trainingDataName: 'support-qa-train',
      trainingDataVersion: '3',
      computeSku: 'Standard_ND96asr_v4',
      estimatedCostUsd: '108.788000',
      gateReasons: 'exact_match 0.74 < min 0.78; toxicity 0.02 > max 0.01',
    });
  });

  it('carries the same lineage in its properties', () => {
    expect(job.body.properties).toEqual(job.body.tags);
  });

  it('has only string tag values', () => {
    expect(Object.values(job.body.tags).every((value) => typeof value === 'string')).toBe(true);
  });

  it("records the commit as 'unknown' when the evaluation did not say", () => {
    const { commit: _, ...failure } = input.failure;
    expect(buildRetrainingJob({ ...input, failure }).body.tags.codeCommit).toBe('unknown');
  });

  it('cuts long reasons to 1000 characters', () => {
    const failure = { ...input.failure, reasons: ['x'.repeat(5000)] };
    expect(buildRetrainingJob({ ...input, failure }).body.tags.gateReasons).toHaveLength(1000);
  });

  it('defaults the experiment to retrain-<model slug>', () => {
    const failure = { ...input.failure, model: 'Llama-3.2-1B-Instruct' };
    const small = buildRetrainingJob({ ...input, failure, retraining: entry('llama-3.2-1b-instruct') });
    expect(small.body.experimentName).toBe('retrain-llama-3-2-1b-instruct');
  });

  it('keeps control characters of a hostile model name out of the display name', () => {
    const failure = { ...input.failure, model: 'evil\nmodel\u0007' };
    expect(buildRetrainingJob({ ...input, failure }).body.displayName).toBe(
      'retrain evil\\u000amodel\\u0007 7',
    );
  });

  it('refuses a cluster SKU without a price', () => {
    const target = { ...input.target, computeSku: 'Standard_NC6' };
    expect(() => buildRetrainingJob({ ...input, target })).toThrow(PermanentError);
  });
});

describe('isoHours', () => {
  it.each([
    [6, 'PT6H'],
    [1.5, 'PT1H30M'],
    [0.25, 'PT15M'],
    [1 / 3600, 'PT1S'],
  ])('writes %s hours as %s', (hours, duration) => {
    expect(isoHours(hours)).toBe(duration);
  });
});

describe('truncate', () => {
  it('does not cut a surrogate pair in half', () => {
    expect(truncate('ab😀cd', 4)).toBe('ab…');
  });
});

describe('computeIdFor', () => {
  it('makes the ARM id of a cluster name in the workspace', () => {
    expect(computeIdFor('a100', 'sub', 'rg', 'ws')).toBe(COMPUTE);
  });

  it('keeps a full ARM id as it is', () => {
    const id = COMPUTE.replace('/ws/', '/other/');
    expect(computeIdFor(id, 'sub', 'rg', 'ws')).toBe(id);
  });

  it('refuses something that is neither, naming AML_COMPUTE', () => {
    expect(() => computeIdFor('a100/../x', 'sub', 'rg', 'ws')).toThrow(/^AML_COMPUTE: /);
  });

  it('refuses a resource group that would change the path', () => {
    expect(() => computeIdFor('a100', 'sub', 'rg/x', 'ws')).toThrow(ConfigurationError);
  });
});
