/**
 * The Azure ML command job a failed gate submits (contracts.md §7 and §10), as plain data: the body of the
 * PUT `.../workspaces/{ws}/jobs/{name}` (api-version 2022-10-01) under `properties`, in the shape
 * @azure/arm-machinelearning's `CommandJob` model serialises. No SDK import: the adapter hands it over.
 */
import { ConfigurationError } from '../errors.js';
import type { PriceCard } from '../prices.js';
import { escapeControlCharacters } from '../text.js';
import type { Micros } from '../timestamp.js';
import { strategyFor, type ModelRetraining, type RetrainingConfig, type Strategy } from './config.js';
import { estimateJob, type JobEstimate } from './estimate.js';
import { jobName, modelSlug, type JobNameInput } from './job-name.js';

export interface CommandJobBody {
  readonly jobType: 'Command';
  readonly displayName: string;
  readonly experimentName: string;
  readonly description: string;
  /** ARM id of the A100 compute cluster. */
  readonly computeId: string;
  readonly environmentId: string;
  readonly codeId: string;
  readonly command: string;
  readonly environmentVariables: Readonly<Record<string, string>>;
  /** One process per GPU on every node (contracts.md §7). */
  readonly distribution: { readonly distributionType: 'PyTorch'; readonly processCountPerInstance: number };
  readonly resources: { readonly instanceCount: number };
  readonly inputs: Readonly<Record<string, JobInputBody>>;
  readonly outputs: Readonly<Record<string, JobOutputBody>>;
  /** `timeout` as an ISO 8601 duration, e.g. `PT6H`. */
  readonly limits: { readonly jobLimitsType: 'Command'; readonly timeout: string };
  /** Lineage (code commit, dataset, compute SKU, evaluation, reasons): searchable in the studio. */
  readonly tags: Readonly<Record<string, string>>;
  /** The same lineage, immutable once the job exists. */
  readonly properties: Readonly<Record<string, string>>;
}

export interface JobInputBody {
  readonly jobInputType: 'uri_folder' | 'uri_file' | 'mltable' | 'mlflow_model' | 'custom_model';
  /** e.g. `azureml:support-qa-train:3` for a registered asset by name and version. */
  readonly uri: string;
  readonly mode?: 'ReadOnlyMount' | 'Download';
}

export interface JobOutputBody {
  readonly jobOutputType: 'mlflow_model' | 'uri_folder' | 'custom_model';
  readonly mode?: 'ReadWriteMount' | 'Upload';
}

/** The failure a job answers: the job name's fields (job-name.ts) and what the lineage records. */
export interface RetrainingFailure extends JobNameInput {
  /** The code revision the failed evaluation ran, when the event said. */
  readonly commit?: string;
  /** The gate's reasons, one line each. */
  readonly reasons: readonly string[];
}

/** Where the job runs, from the settings (contracts.md §10): ARM ids of the cluster, environment and code. */
export interface RetrainingTarget {
  readonly computeId: string;
  /** VM size of the cluster's nodes, as priced on the price card (normally the config's computeSku). */
  readonly computeSku: string;
  readonly environmentId: string;
  readonly codeId: string;
}

export interface RetrainingJobInput {
  readonly failure: RetrainingFailure;
  /** The model's entry of the config (retrainingFor). */
  readonly retraining: ModelRetraining;
  readonly config: RetrainingConfig;
  readonly target: RetrainingTarget;
  readonly prices: PriceCard;
  /** The instant of decision: the price in force then is the estimate's. */
  readonly at: Micros;
}

export interface RetrainingJob {
  readonly name: string;
  readonly body: CommandJobBody;
  readonly strategy: Strategy;
  readonly estimate: JobEstimate;
}

/** The gate's reasons in the lineage: long enough to read, short enough for any tag store. */
export const MAX_REASONS_LENGTH = 1000;
/** displayName and each value of the description: what the studio shows on one line. */
const MAX_LABEL_LENGTH = 200;

/**
 * The command job for a failure (contracts.md §7): PyTorch distribution with one process per GPU of the
 * SKU, DDP or FSDP by the model's size (strategyFor), the estimate at `at`, and the lineage in tags
 * and properties. Throws PermanentError when the price card has no price for the SKU at `at`.
 */
export function buildRetrainingJob(input: RetrainingJobInput): RetrainingJob {
  const { failure, retraining, config, target } = input;
  const name = jobName(failure);
  const strategy = strategyFor(retraining.parametersBillions, config);
  const estimate = estimateJob(
    input.prices,
    target.computeSku,
    retraining.instanceCount,
    retraining.expectedHours,
    input.at,
  );
  const lineage = lineageOf(input, strategy, estimate);
  const model = label(failure.model);
  const body: CommandJobBody = {
    jobType: 'Command',
    displayName: label(`retrain ${failure.model} ${failure.modelVersion}`),
    experimentName: retraining.experimentName ?? `retrain-${modelSlug(failure.model)}`,
    description: truncate(
      `Quality gate failed for ${model} ${label(failure.modelVersion)} on ${label(failure.dataset)} ` +
        `(evaluation ${label(failure.evaluation)}): ${lineage.gateReasons}`,
      MAX_REASONS_LENGTH + 4 * MAX_LABEL_LENGTH,
    ),
    computeId: target.computeId,
    environmentId: target.environmentId,
    codeId: target.codeId,
    command: retraining.command,
    environmentVariables: {
      TRAINING_STRATEGY: strategy,
      BASE_MODEL: retraining.baseModel,
      MODEL_NAME: failure.model,
      MODEL_VERSION: failure.modelVersion,
      // The lineage the job's MLflow run and its model carry (training/sft/tracking.py).
      CODE_COMMIT: lineage.codeCommit ?? 'unknown',
      EVALUATION_ID: failure.evaluation,
      TRAINING_DATA_NAME: retraining.trainingData.name,
      TRAINING_DATA_VERSION: retraining.trainingData.version,
      COMPUTE_SKU: target.computeSku,
    },
    distribution: { distributionType: 'PyTorch', processCountPerInstance: estimate.gpusPerInstance },
    resources: { instanceCount: retraining.instanceCount },
    inputs: {
      // uri_folder, not mltable: fine-tuning data is files (JSONL shards) the script reads itself;
      // mltable needs an MLTable definition and suits tabular data read through the mltable package.
      training_data: {
        jobInputType: 'uri_folder',
        uri: `azureml:${retraining.trainingData.name}:${retraining.trainingData.version}`,
        mode: 'ReadOnlyMount',
      },
      // Every process reads all the weights at start: a copy on the node's local disk beats a mount.
      base_model: { jobInputType: 'mlflow_model', uri: retraining.baseModel, mode: 'Download' },
    },
    outputs: { model: { jobOutputType: 'mlflow_model' } },
    limits: { jobLimitsType: 'Command', timeout: isoHours(retraining.timeoutHours) },
    tags: lineage,
    properties: lineage,
  };
  return { name, body, strategy, estimate };
}

/** Lineage (contracts.md §7), every value a string. */
function lineageOf(
  input: RetrainingJobInput,
  strategy: Strategy,
  estimate: JobEstimate,
): Record<string, string> {
  const { failure, retraining, target } = input;
  const at = failure.dataset.lastIndexOf('@');
  return {
    model: failure.model,
    modelVersion: failure.modelVersion,
    codeCommit: failure.commit ?? 'unknown',
    evaluation: failure.evaluation,
    evaluationDataset: failure.dataset,
    evaluationDatasetName: at < 0 ? failure.dataset : failure.dataset.slice(0, at),
    evaluationDatasetVersion: at < 0 ? '' : failure.dataset.slice(at + 1),
    trainingDataName: retraining.trainingData.name,
    trainingDataVersion: retraining.trainingData.version,
    baseModel: retraining.baseModel,
    computeSku: target.computeSku,
    instanceCount: String(retraining.instanceCount),
    gpusPerInstance: String(estimate.gpusPerInstance),
    strategy,
    estimatedCostUsd: (estimate.microUsd / 1_000_000).toFixed(6),
    gateReasons: truncate(failure.reasons.join('; '), MAX_REASONS_LENGTH),
  };
}

/** An ISO 8601 duration of whole seconds: 6 -> `PT6H`, 1.5 -> `PT1H30M`. */
export function isoHours(hours: number): string {
  const seconds = Math.round(hours * 3600);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = `${h > 0 ? `${h}H` : ''}${m > 0 ? `${m}M` : ''}${s > 0 ? `${s}S` : ''}`;
  return `PT${parts === '' ? '0S' : parts}`;
}

/** At most `max` UTF-16 units, ending in `…` when cut, never halving a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** A value for a one-line label: control characters escaped, then cut to length. */
function label(text: string): string {
  return truncate(escapeControlCharacters(text), MAX_LABEL_LENGTH);
}

const ARM_COMPUTE_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/computes\/[^/]+$/i;
/** Azure ML compute names: a letter, then letters, digits and `-`; 2 to 32 characters here. */
const COMPUTE_NAME = /^[A-Za-z][A-Za-z0-9-]{1,31}$/;

/**
 * The ARM id of the cluster AML_COMPUTE names (contracts.md §10): a full ARM id as it is, or a cluster
 * name of the workspace. Throws ConfigurationError naming AML_COMPUTE when it is neither.
 */
export function computeIdFor(
  setting: string,
  subscription: string,
  resourceGroup: string,
  workspace: string,
): string {
  const parts = {
    AML_SUBSCRIPTION_ID: subscription,
    AML_RESOURCE_GROUP: resourceGroup,
    AML_WORKSPACE: workspace,
  };
  for (const [variable, value] of Object.entries(parts)) {
    // Each is one segment of the ARM path: a `/` or a space would point the id somewhere else.
    if (!/^[^/\s]+$/.test(value))
      throw new ConfigurationError(`${variable}: must be one non-empty path segment`);
  }
  if (ARM_COMPUTE_ID.test(setting)) return setting;
  if (!COMPUTE_NAME.test(setting)) {
    throw new ConfigurationError(
      `AML_COMPUTE: must be a compute cluster name or its ARM id (/subscriptions/.../computes/NAME), got ${JSON.stringify(escapeControlCharacters(setting))}`,
    );
  }
  return (
    `/subscriptions/${subscription}/resourceGroups/${resourceGroup}` +
    `/providers/Microsoft.MachineLearningServices/workspaces/${workspace}/computes/${setting}`
  );
}
