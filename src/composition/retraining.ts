import { DefaultAzureCredential } from '@azure/identity';
import { AmlJobs } from '../adapters/azure-ml/aml-jobs.js';
import { AmlModels } from '../adapters/azure-ml/aml-models.js';
import { TokenFileCredential } from '../adapters/azure-ml/token-file-credential.js';
import { ConfigurationError } from '../domain/errors.js';
import type { PriceCard } from '../domain/prices.js';
import { parseRetrainingConfig, type RetrainingConfig } from '../domain/retrain/config.js';
import { computeIdFor, type RetrainingTarget } from '../domain/retrain/job-spec.js';
import type { RetrainLimits } from '../domain/retrain/policy.js';
import type { ModelRegistry } from '../ports/model-registry.js';
import type { RetrainingJobs } from '../ports/retraining-jobs.js';
import type { RetrainingSettings } from './config.js';
import { readJsonFile } from './files.js';

/** What retraining needs besides the stores: the Azure ML client, the config file, the cluster and the limits. */
export interface Retraining {
  readonly jobs: RetrainingJobs;
  /** The workspace's model versions: a completed job's output is registered there. */
  readonly registry: ModelRegistry;
  readonly config: RetrainingConfig;
  readonly target: RetrainingTarget;
  readonly limits: RetrainLimits;
  /** Azure ML studio's page of a job, for the button on the Teams notices. */
  readonly jobUrl: (name: string) => string;
}

/** The Azure ML client and what every job needs; the SKU must be priced, or no estimate could be made. */
export function retrainingSetup(r: RetrainingSettings, prices: PriceCard, clientId?: string): Retraining {
  const retrainingConfig = readJsonFile('RETRAINING_CONFIG_PATH', r.configPath, parseRetrainingConfig);
  if (prices.periods(retrainingConfig.computeSku) === undefined)
    throw new ConfigurationError(
      `RETRAINING_CONFIG_PATH: computeSku ${retrainingConfig.computeSku} has no price on the price card`,
    );
  const credential =
    r.tokenFile === undefined
      ? new DefaultAzureCredential(clientId === undefined ? {} : { managedIdentityClientId: clientId })
      : new TokenFileCredential(r.tokenFile);
  const aml = {
    subscriptionId: r.subscriptionId,
    resourceGroup: r.resourceGroup,
    workspace: r.workspace,
    endpoint: r.armEndpoint,
    credential,
  };
  const jobs = new AmlJobs(aml);
  const workspaceId = `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${r.workspace}`;
  return {
    jobs,
    registry: new AmlModels(aml),
    config: retrainingConfig,
    target: {
      computeId: computeIdFor(r.compute, r.subscriptionId, r.resourceGroup, r.workspace),
      computeSku: retrainingConfig.computeSku,
      environmentId: r.environmentId,
      codeId: r.codeId,
    },
    limits: {
      maxJobMicroUsd: Math.round(r.maxJobUsd * 1_000_000),
      monthlyBudgetMicroUsd: Math.round(retrainingConfig.monthlyBudgetUsd * 1_000_000),
      cooldownMs: retrainingConfig.cooldownHours * 3_600_000,
    },
    jobUrl: (name) =>
      `https://ml.azure.com/runs/${encodeURIComponent(name)}?wsid=${encodeURIComponent(workspaceId)}`,
  };
}
