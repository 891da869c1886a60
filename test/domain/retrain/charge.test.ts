import { describe, expect, it } from 'vitest';
import { retrainingRecords, runOf, type RetrainingRun } from '../../../src/domain/retrain/charge.js';
import type { JobRecord } from '../../../src/domain/retrain/record.js';

const us = (iso: string) => Date.parse(iso) * 1000;
const DAY = { start: us('2026-11-20T00:00:00Z'), end: us('2026-11-21T00:00:00Z') };
const run = (over: Partial<RetrainingRun> = {}): RetrainingRun => ({
  name: 'retrain-llama-1',
  model: 'llama',
  status: 'Completed',
  gpuSku: 'Standard_NC96ads_A100_v4',
  gpuCount: 8,
  startUs: us('2026-11-20T22:00:00Z'),
  endUs: us('2026-11-21T02:00:00Z'),
  ...over,
});

describe('retrainingRecords', () => {
  it('makes one capacity window and one (retraining) request per run overlapping the day', () => {
    const { usage, capacity } = retrainingRecords([run()], DAY.start, DAY.end);
    expect(capacity).toHaveLength(1);
    expect(usage[0]).toMatchObject({
      tenant: '(retraining)',
      feature: 'llama',
      requestClass: 'retraining',
      gpuCount: 8,
    });
    expect(capacity[0]?.pod).toBe(usage[0]?.pod);
  });

  it('leaves out runs that do not touch the day', () => {
    const before = run({ startUs: us('2026-11-19T01:00:00Z'), endUs: us('2026-11-20T00:00:00Z') });
    expect(retrainingRecords([before], DAY.start, DAY.end).usage).toHaveLength(0);
  });

  it('maps Failed to error and Canceled to aborted', () => {
    const { usage } = retrainingRecords(
      [run({ status: 'Failed' }), run({ name: 'b', status: 'Canceled' })],
      DAY.start,
      DAY.end,
    );
    expect(usage.map((u) => u.status)).toEqual(['error', 'aborted']);
  });
});

describe('runOf', () => {
  const record = (over: Partial<JobRecord>): JobRecord =>
    ({
      name: 'j',
      model: 'm',
      status: 'Completed',
      gpuSku: 'sku',
      instanceCount: 2,
      gpusPerInstance: 4,
      runningSince: '2026-11-20T01:00:00Z',
      endedAt: '2026-11-20T03:00:00Z',
      ...over,
    }) as JobRecord;

  it('charges nodes × GPUs from the first time seen running to the end', () => {
    expect(runOf(record({}))).toMatchObject({ gpuCount: 8, startUs: us('2026-11-20T01:00:00Z') });
  });

  it('has no run for a job that has not ended or never ran', () => {
    expect(runOf(record({ endedAt: undefined }))).toBeUndefined();
    expect(runOf(record({ runningSince: undefined }))).toBeUndefined();
  });
});
