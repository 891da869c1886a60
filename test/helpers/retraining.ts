import { readFileSync } from 'node:fs';
import { loadPriceCard } from '../../src/domain/prices.js';
import { parseRetrainingConfig } from '../../src/domain/retrain/config.js';
import { buildRetrainingJob, type RetrainingJob } from '../../src/domain/retrain/job-spec.js';
import { parseTimestamp } from '../../src/domain/timestamp.js';

export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
export const RESOURCE_GROUP = 'rg-chargeback';
export const WORKSPACE = 'mlw-chargeback';

/** The job a failed gate of llama-3.1-8b-instruct builds from the shipped config and price card. */
export function sampleJob(evaluation = 'eval-0042'): RetrainingJob {
  const config = parseRetrainingConfig(JSON.parse(readFileSync('rules/retraining.json', 'utf8')));
  const retraining = config.models['llama-3.1-8b-instruct'];
  if (retraining === undefined) throw new Error('rules/retraining.json has no llama-3.1-8b-instruct');
  const workspace = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices/workspaces/${WORKSPACE}`;
  return buildRetrainingJob({
    failure: {
      model: 'llama-3.1-8b-instruct',
      modelVersion: '7',
      dataset: 'support-qa@3',
      evaluation,
      commit: '0a1b2c3',
      reasons: ['exact_match 0.74 < min 0.78'],
    },
    retraining,
    config,
    target: {
      computeId: `${workspace}/computes/a100`,
      computeSku: config.computeSku,
      environmentId: `${workspace}/environments/train/versions/4`,
      codeId: `${workspace}/codes/train/versions/9`,
    },
    prices: loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8'))),
    at: parseTimestamp('2026-03-01T00:00:00Z') ?? 0,
  });
}
