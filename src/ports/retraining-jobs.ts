/**
 * Azure ML jobs, as retraining needs them (contracts.md §7): read a job by name, create one under a name, and
 * cancel one. The real adapter speaks to the workspace's ARM endpoint with @azure/arm-machinelearning
 * (src/adapters/azure-ml/); the memory adapter keeps jobs in a map for use-case tests.
 *
 * Errors follow src/domain/errors.ts: TransientError when the call may succeed later (429, 5xx, a
 * network failure, after the SDK's own retries), PermanentError when this request will never succeed
 * (400, 401, 403, 409 on create), ConfigurationError for settings that cannot work (no token file).
 */
import type { CommandJobBody } from '../domain/retrain/job-spec.js';

/**
 * The Azure ML job statuses (api-version 2022-10-01, KnownJobStatus of @azure/arm-machinelearning
 * 2.1.1) after which a job never runs again. Not `NotResponding`: the service says a job "can go
 * from NotResponding to any of the previous states", so it is followed as still running. Not
 * `Paused`, `CancelRequested` or `Unknown`, nor any status this list does not know: a job is taken
 * to have ended only on a status that says so, so a new status never frees the model's slot for a
 * second job.
 */
export const TERMINAL_STATUSES = ['Completed', 'Failed', 'Canceled'] as const;

/** What retraining reads of a job. */
export interface JobState {
  readonly name: string;
  /** Azure ML's status text, e.g. `Queued`, `Running`, `Completed` (`Unknown` when the service gave none). */
  readonly status: string;
  /** True for a status after which the job will not run again (TERMINAL_STATUSES). */
  readonly terminal: boolean;
  /** The job's tags as Azure ML returns them (the lineage retraining put there). */
  readonly tags: Readonly<Record<string, string>>;
  /** systemData.createdAt, ISO 8601, when the service gave it. */
  readonly createdAt?: string;
  /** systemData.lastModifiedAt, ISO 8601, when the service gave it: for a terminal job, about when it ended. */
  readonly lastModifiedAt?: string;
}

export interface RetrainingJobs {
  /** The job, or undefined when the workspace has no job of that name (404). */
  get(name: string): Promise<JobState | undefined>;
  /** Creates the job with a PUT under `name`; callers read it with `get` first (contracts.md §7). */
  create(name: string, body: CommandJobBody): Promise<JobState>;
  /** Asks Azure ML to cancel the job and returns without waiting for it to stop. */
  cancel(name: string): Promise<void>;
}

/** True only for a status in TERMINAL_STATUSES; any other text, known or not, is a job not yet ended. */
export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}
