import type { PromotionVerdict } from '../../src/domain/promotion/decide.js';

/** A held verdict of llama-3.1-8b-instruct version 8 (the cost gate failed), with `fields` over it. */
export function verdict(fields: Partial<PromotionVerdict> = {}): PromotionVerdict {
  return {
    model: 'llama-3.1-8b-instruct',
    candidateVersion: '8',
    currentVersion: '7',
    decision: 'hold',
    reasons: ['cost gate: up 9% > 5%'],
    evidence: {
      job: 'retrain-1',
      modelUri: 'azureml://jobs/retrain-1/outputs/model',
      evaluation: 'ev-8',
      evaluationSource: 'evaluations.ndjson',
      qualityGate: 'pass',
      costGate: 'fail',
      costGateSource: 'cost-gate.json',
    },
    decidedAt: '2026-03-02T02:00:00.000Z',
    ...fields,
  };
}
