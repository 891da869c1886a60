import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { MemoryRetrainingStore } from '../../src/adapters/memory/memory-retraining-store.js';
import { TableRetrainingStore } from '../../src/adapters/azure-storage/table-retraining-store.js';
import { PermanentError } from '../../src/domain/errors.js';
import { EMPTY_STATE, type JobRecord, type RetrainingState } from '../../src/domain/retrain/record.js';
import type { CommandJobBody } from '../../src/domain/retrain/job-spec.js';
import type { RetrainingStore } from '../../src/ports/retraining-store.js';

const BODY: CommandJobBody = {
  jobType: 'Command',
  displayName: 'retrain llama-3-8b 7',
  experimentName: 'retrain-llama-3-8b',
  description: 'exact_match 0.70 < 0.78 on support-qa@3',
  computeId:
    '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/a100',
  environmentId: 'azureml:train-env:4',
  codeId: 'azureml:code:9',
  command: `python train.py --data \${{inputs.train}} ${'--flag '.repeat(400)}`,
  environmentVariables: { NCCL_DEBUG: 'WARN' },
  distribution: { distributionType: 'PyTorch', processCountPerInstance: 8 },
  resources: { instanceCount: 2 },
  inputs: { train: { jobInputType: 'uri_folder', uri: 'azureml:support-qa-train:3', mode: 'ReadOnlyMount' } },
  outputs: { model: { jobOutputType: 'mlflow_model', mode: 'Upload' } },
  limits: { jobLimitsType: 'Command', timeout: 'PT6H' },
  tags: { commit: 'abc123', dataset: 'support-qa@3', evaluation: 'e1' },
  properties: { commit: 'abc123', dataset: 'support-qa@3', evaluation: 'e1' },
};

function job(name: string, fields: Partial<JobRecord> = {}): JobRecord {
  return {
    name,
    model: 'llama-3-8b',
    modelVersion: '7',
    dataset: 'support-qa@3',
    evaluation: 'e1',
    reasons: ['exact_match 0.70 < 0.78'],
    status: 'Submitting',
    estimatedMicroUsd: 123_456_789,
    gpuSku: 'Standard_NC24ads_A100_v4',
    instanceCount: 2,
    gpusPerInstance: 8,
    decidedAt: '2026-05-01T12:00:00.000Z',
    notified: [],
    body: BODY,
    ...fields,
  };
}

function state(jobName: string, month = 1_000_000): RetrainingState {
  return {
    models: {
      'llama-3-8b': {
        job: jobName,
        since: '2026-05-01T12:00:00.000Z',
        month: '2026-05',
        estimateMicroUsd: 1,
      },
    },
    months: { '2026-05': month },
  };
}

/** A state of many models and months: its JSON is far longer than one Table property holds. */
function largeState(models: number): RetrainingState {
  const slots = Array.from({ length: models }, (_, i) => [
    `model-${i}-${'x'.repeat(40)}`,
    { job: `retrain-model-${i}-${'y'.repeat(40)}`, since: '2026-05-01T12:00:00.000Z' },
  ]);
  const months = Array.from({ length: 120 }, (_, i) => [
    `${2020 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`,
    i * 1000,
  ]);
  return { models: Object.fromEntries(slots), months: Object.fromEntries(months) };
}

function contract(name: string, make: () => Promise<RetrainingStore>): void {
  describe(`retraining store contract: ${name}`, () => {
    it('reads the empty state, with no version, before the first write', async () => {
      const store = await make();
      expect(await store.state()).toEqual({ value: EMPTY_STATE, version: undefined });
    });

    it('creates the state only when there is none', async () => {
      const store = await make();
      expect(await store.putState(state('a'), undefined)).toBe('written');
      expect(await store.putState(state('b'), undefined)).toBe('conflict');
      expect((await store.state()).value).toEqual(state('a'));
    });

    it('replaces the state at the version read, and refuses that version afterwards', async () => {
      const store = await make();
      await store.putState(state('a'), undefined);
      const { version } = await store.state();
      expect(await store.putState(state('b'), version)).toBe('written');
      expect(await store.putState(state('c'), version)).toBe('conflict');
      expect((await store.state()).value).toEqual(state('b'));
    });

    it('lets exactly one of two writers that read the same version replace the state', async () => {
      const store = await make();
      await store.putState(state('a'), undefined);
      const [first, second] = await Promise.all([store.state(), store.state()]);
      const outcomes = await Promise.all([
        store.putState(state('b', 2), first.version),
        store.putState(state('c', 3), second.version),
      ]);
      expect([...outcomes].sort()).toEqual(['conflict', 'written']);
      const winner = outcomes[0] === 'written' ? state('b', 2) : state('c', 3);
      expect((await store.state()).value).toEqual(winner);
    });

    it('refuses to replace a state that was never written', async () => {
      const store = await make();
      const other = await make();
      await other.putState(state('a'), undefined);
      expect(await store.putState(state('b'), (await other.state()).version)).toBe('conflict');
    });

    it('keeps a state longer than one Table property holds, and replaces it with a shorter one', async () => {
      const store = await make();
      const large = largeState(2000);
      expect(JSON.stringify(large).length).toBeGreaterThan(100_000);
      await store.putState(large, undefined);
      const read = await store.state();
      expect(read.value).toEqual(large);
      await store.putState(state('a'), read.version);
      expect((await store.state()).value).toEqual(state('a'));
    });

    it('refuses a state too large to store and keeps the one it has', async () => {
      const store = await make();
      await store.putState(state('a'), undefined);
      const { version } = await store.state();
      await expect(store.putState(largeState(8000), version)).rejects.toThrow(PermanentError);
      expect(await store.state()).toEqual({ value: state('a'), version });
    });

    it('has no record of a job never stored', async () => {
      const store = await make();
      expect(await store.job('retrain-x')).toBeUndefined();
    });

    it('creates a job record only when there is none', async () => {
      const store = await make();
      expect(await store.putJob(job('j1'), undefined)).toBe('written');
      expect(await store.putJob(job('j1', { status: 'Refused' }), undefined)).toBe('conflict');
      expect((await store.job('j1'))?.value).toEqual(job('j1'));
    });

    it('updates a job record at the version read, and refuses a stale version', async () => {
      const store = await make();
      await store.putJob(job('j1'), undefined);
      const read = await store.job('j1');
      expect(await store.putJob(job('j1', { status: 'Running' }), read?.version)).toBe('written');
      expect(await store.putJob(job('j1', { status: 'Failed' }), read?.version)).toBe('conflict');
      expect((await store.job('j1'))?.value.status).toBe('Running');
    });

    it('refuses to update a job record that was never stored', async () => {
      const store = await make();
      await store.putJob(job('j1'), undefined);
      const read = await store.job('j1');
      expect(await store.putJob(job('j2'), read?.version)).toBe('conflict');
      expect(await store.job('j2')).toBeUndefined();
    });

    it('lists job records by decision time, then name', async () => {
      const store = await make();
      await store.putJob(job('c', { decidedAt: '2026-05-02T00:00:00.000Z' }), undefined);
      await store.putJob(job('b'), undefined);
      await store.putJob(job('a', { decidedAt: '2026-05-03T00:00:00.000Z' }), undefined);
      await store.putJob(job('a0'), undefined);
      expect((await store.jobs()).map((j) => j.name)).toEqual(['a0', 'b', 'c', 'a']);
    });

    it('keeps job names with characters a Table key forbids apart', async () => {
      const store = await make();
      const names = ['a/b', 'a#b', 'a?b', 'a\\b', 'a%2Fb', `long-${'z'.repeat(600)}`];
      for (const n of names) expect(await store.putJob(job(n), undefined)).toBe('written');
      for (const n of names) expect((await store.job(n))?.value.name).toBe(n);
      expect((await store.jobs()).map((j) => j.name)).toEqual([...names].sort());
    });
  });
}

contract('memory', () => Promise.resolve(new MemoryRetrainingStore()));

contract('table (Azurite)', async () => {
  const name = `retraining${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const table = TableClient.fromConnectionString(inject('azurite'), name, { allowInsecureConnection: true });
  const store = new TableRetrainingStore(table);
  await store.ensure();
  return store;
});
