/**
 * What retraining remembers: one record per job it decided on (submitted or refused), and one small
 * shared state that holds each model's single job slot and each month's committed spend. The state
 * is one record on purpose: every decision (is a job running for this model? is there budget left
 * this month?) is a read-modify-write of it guarded by its version, so two decisions made at once,
 * for the same model or for two models sharing the month's budget, cannot both pass.
 */
import type { CommandJobBody } from './job-spec.js';

/** Our statuses before and beside Azure ML's: `Submitting` until Azure ML has the job, `Refused` when it was never sent. */
export type OwnStatus = 'Submitting' | 'Refused';

export interface JobRecord {
  /** The Azure ML job name, derived from the failure (see job-name.ts). */
  readonly name: string;
  readonly model: string;
  readonly modelVersion: string;
  readonly dataset: string;
  /** eventId of the evaluation whose failure started it. */
  readonly evaluation: string;
  readonly reasons: readonly string[];
  /** `Submitting`, `Refused`, or the last status read from Azure ML. */
  readonly status: string;
  /** Estimate at decision time, micro-USD (integer). */
  readonly estimatedMicroUsd: number;
  /** VM size of the cluster's nodes, priced on the price card. */
  readonly gpuSku: string;
  readonly instanceCount: number;
  readonly gpusPerInstance: number;
  /** When it was decided (ISO 8601). */
  readonly decidedAt: string;
  /** Why it was refused (budget) or given up, for `Refused`. */
  readonly refusal?: string;
  /** First time it was seen running (ISO 8601): where its GPU-time starts being charged. */
  readonly runningSince?: string;
  /** When it was seen to have ended (ISO 8601). */
  readonly endedAt?: string;
  /** Charged GPU-seconds and cost once it has ended and its time is known. */
  readonly gpuSeconds?: number;
  readonly costMicroUsd?: number;
  /** Teams posts already made for this job: `submitted`, `refused`, `completed`, `failed`, `canceled`, `unregistered`. */
  readonly notified: readonly string[];
  /**
   * While `Submitting`: until when one run holds the right to call Azure ML for it (ISO 8601). Two
   * runs finishing the same submission at once would otherwise both read "absent" and both PUT.
   */
  readonly submitLeaseUntil?: string;
  /** The exact body submitted, so a submission cut short by a crash is finished with the same job. */
  readonly body: CommandJobBody;
  /** The registration of a `Completed` job's output (contracts.md §16); absent until first tried. */
  readonly registration?: RegistrationAttempts;
}

/**
 * Where registering a completed job's output stands. `pending`: it failed and is tried again on the
 * next follow; `registered`: the version is in the workspace; `failed`: it will not be tried again
 * (the attempts ran out, or the workspace refused it for good), and `reason` says why.
 */
export interface RegistrationAttempts {
  readonly state: 'pending' | 'registered' | 'failed';
  readonly version: string;
  readonly attempts: number;
  /** The last failure, kept through a later success for the record. */
  readonly reason?: string;
  /** When it was last tried (ISO 8601). */
  readonly at: string;
}

export interface ModelSlot {
  /** The job holding the slot. */
  readonly job: string;
  readonly since: string;
  /** The month its estimate was reserved in (`YYYY-MM`), and the estimate: given back if it is abandoned. */
  readonly month: string;
  readonly estimateMicroUsd: number;
  /** Set when the job ended: the slot is free again after the cooldown. */
  readonly endedAt?: string;
}

export interface RetrainingState {
  readonly models: Readonly<Record<string, ModelSlot>>;
  /** Committed spend per month (`YYYY-MM`), micro-USD: estimates of unfinished jobs, costs of finished ones. */
  readonly months: Readonly<Record<string, number>>;
}

export const EMPTY_STATE: RetrainingState = { models: {}, months: {} };
