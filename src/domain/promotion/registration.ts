/**
 * What a completed retraining job registers (contracts.md §16): a model version whose modelUri is
 * the job's output, with the job's lineage (job name, commit, datasets and versions, compute SKU,
 * the evaluation that failed and its gate reasons) as its tags and properties. Pure.
 */
import type { RegistrationAttempts } from '../retrain/record.js';

/** What registration reads of a job (the RetrainingJobs port's JobState has these fields). */
export interface FinishedJob {
  readonly name: string;
  readonly status: string;
  readonly terminal: boolean;
  readonly tags: Readonly<Record<string, string>>;
}

/** The job output a retraining job writes its model to (training/ writes `model`). */
export const MODEL_OUTPUT = 'model';

/** The lineage keys a registration carries, from the job's tags (contracts.md §7). */
export const LINEAGE_KEYS = [
  'model',
  'modelVersion',
  'codeCommit',
  'evaluation',
  'evaluationDataset',
  'trainingDataName',
  'trainingDataVersion',
  'baseModel',
  'computeSku',
  'strategy',
  'gateReasons',
] as const;

/** The body of PUT .../models/{name}/versions/{version} (api-version 2022-10-01). */
export interface ModelVersionBody {
  readonly properties: {
    readonly description: string;
    readonly modelUri: string;
    readonly modelType: 'mlflow_model' | 'custom_model';
    readonly jobName: string;
    readonly tags: Readonly<Record<string, string>>;
    readonly properties: Readonly<Record<string, string>>;
  };
}

export type RegistrationPlan =
  | { readonly register: true; readonly body: ModelVersionBody }
  | { readonly register: false; readonly reason: string };

/**
 * The registration of `job`'s output as `model` version `version`, or why there is none: only a
 * Completed job registers; a Failed or Canceled one, or one still running, does not.
 */
export function planRegistration(
  job: FinishedJob,
  model: string,
  version: string,
  modelType: 'mlflow_model' | 'custom_model' = 'mlflow_model',
): RegistrationPlan {
  if (job.status !== 'Completed')
    return {
      register: false,
      reason: `job ${job.name} is ${job.status}${job.terminal ? '' : ' (not finished)'}: nothing to register`,
    };
  if (job.tags.model !== undefined && job.tags.model !== model)
    return { register: false, reason: `job ${job.name} retrained ${job.tags.model}, not ${model}` };
  const lineage: Record<string, string> = { retrainingJob: job.name };
  for (const key of LINEAGE_KEYS) {
    const value = job.tags[key];
    if (value !== undefined) lineage[key === 'modelVersion' ? 'retrainedFromVersion' : key] = value;
  }
  const from = job.tags.modelVersion === undefined ? '' : ` from version ${job.tags.modelVersion}`;
  return {
    register: true,
    body: {
      properties: {
        description: `${model} retrained${from} by job ${job.name}`,
        modelUri: `azureml://jobs/${job.name}/outputs/${MODEL_OUTPUT}`,
        modelType,
        jobName: job.name,
        tags: lineage,
        properties: lineage,
      },
    },
  };
}

/** How many follows try to register a completed job's output before it is recorded as not registered. */
export const REGISTRATION_ATTEMPTS = 5;

/** What one registration try came to. `retry`: it may succeed later (an unreachable workspace). */
export type RegistrationTry =
  | { readonly kind: 'registered' }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'retry'; readonly reason: string };

/**
 * The registration after one more try: registered; refused for good; or failed once more, which is
 * `failed` once `maxAttempts` tries have failed and `pending` (tried again next follow) before.
 */
export function nextRegistration(
  previous: RegistrationAttempts | undefined,
  version: string,
  tried: RegistrationTry,
  at: string,
  maxAttempts: number = REGISTRATION_ATTEMPTS,
): RegistrationAttempts {
  const attempts = (previous?.attempts ?? 0) + 1;
  const kept = previous?.reason === undefined ? {} : { reason: previous.reason };
  if (tried.kind === 'registered') return { state: 'registered', version, attempts, at, ...kept };
  if (tried.kind === 'refused') return { state: 'failed', version, attempts, at, reason: tried.reason };
  const state = attempts >= maxAttempts ? 'failed' : 'pending';
  const reason =
    state === 'failed'
      ? `not registered after ${attempts} attempts; the last: ${tried.reason}`
      : tried.reason;
  return { state, version, attempts, at, reason };
}

/** True while a completed job's output still has to be registered. */
export function registrationDue(registration: RegistrationAttempts | undefined): boolean {
  return registration === undefined || registration.state === 'pending';
}
