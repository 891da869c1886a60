/**
 * A finished retraining job in the daily chargeback (tenant `(retraining)`, feature = the model):
 * the cost of quality beside the cost of serving. The job is accounted as a pod of its own that held
 * the cluster's GPUs while it ran, and as the one request that pod served, so the ordinary rules
 * apply unchanged: its GPU-time is split at midnight (contracts.md §4.7), priced at each instant's price
 * (contracts.md §3), and, being alone on its pod, charged all of that time (contracts.md §4.2) with no idle.
 */
import type { CapacityRecord, UsageRecord } from '../records.js';
import type { JobRecord } from './record.js';

/** The tenant of retraining rows; parenthesised like `(idle)`, so it cannot be a real tenant's name by accident. */
export const RETRAINING_TENANT = '(retraining)';
export const RETRAINING_CLASS = 'retraining';

/** What the chargeback needs of a job that ran: where, on how many GPUs, and when. */
export interface RetrainingRun {
  readonly name: string;
  readonly model: string;
  readonly status: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly startUs: number;
  readonly endUs: number;
}

/** The run of an ended job that held GPUs, or undefined (still running, refused, or never ran). */
export function runOf(record: JobRecord): RetrainingRun | undefined {
  if (record.runningSince === undefined || record.endedAt === undefined) return undefined;
  const startUs = Date.parse(record.runningSince) * 1000;
  const endUs = Date.parse(record.endedAt) * 1000;
  if (!(endUs > startUs)) return undefined;
  return {
    name: record.name,
    model: record.model,
    status: record.status,
    gpuSku: record.gpuSku,
    gpuCount: record.instanceCount * record.gpusPerInstance,
    startUs,
    endUs,
  };
}

/** The records of the runs that overlap [dayStartUs, dayEndUs): one capacity window and one request each. */
export function retrainingRecords(
  runs: readonly RetrainingRun[],
  dayStartUs: number,
  dayEndUs: number,
): { usage: UsageRecord[]; capacity: CapacityRecord[] } {
  const usage: UsageRecord[] = [];
  const capacity: CapacityRecord[] = [];
  for (const run of runs) {
    if (run.endUs <= dayStartUs || run.startUs >= dayEndUs) continue;
    const pod = `azureml/${run.name}`;
    const common = { model: run.model, pod, gpuSku: run.gpuSku, gpuCount: run.gpuCount };
    capacity.push({
      type: 'capacity',
      eventId: `retraining/${run.name}/capacity`,
      ...common,
      windowStart: run.startUs,
      windowEnd: run.endUs,
    });
    usage.push({
      type: 'usage',
      eventId: `retraining/${run.name}`,
      // The job's name is what a person looks up, as a request id is for serving.
      requestId: run.name,
      tenant: RETRAINING_TENANT,
      feature: run.model,
      requestClass: RETRAINING_CLASS,
      ...common,
      startedAt: run.startUs,
      firstTokenAt: null,
      finishedAt: run.endUs,
      promptTokens: 0,
      completionTokens: 0,
      cachedPromptTokens: 0,
      queueMs: 0,
      status: run.status === 'Completed' ? 'ok' : run.status === 'Canceled' ? 'aborted' : 'error',
    });
  }
  return { usage, capacity };
}
