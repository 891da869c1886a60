/**
 * Where promotion verdicts are kept (contracts.md §16): each decision once, and the last one per
 * model for `GET /api/promotions/{model}`. A decision is known by its model, candidate, decision
 * and evidence (decisionKey): deciding again on the same evidence is the same decision, so its
 * Teams card goes out once.
 */
import type { PromotionVerdict } from '../domain/promotion/decide.js';

export interface PromotionStore {
  /** Keeps the verdict as the model's last; true when its decision was not kept before. */
  record(verdict: PromotionVerdict): Promise<boolean>;
  /** The model's last verdict, or undefined when none was kept. */
  latest(model: string): Promise<PromotionVerdict | undefined>;
}

/** What makes two verdicts the same decision: the candidate, the outcome and the evidence judged. */
export function decisionKey(verdict: PromotionVerdict): string {
  const e = verdict.evidence;
  return [
    verdict.candidateVersion,
    verdict.currentVersion,
    verdict.decision,
    e.job ?? '',
    e.evaluation ?? '',
    e.costGate,
    e.costGateSource ?? '',
    verdict.reasons.join('\n'),
  ].join('|');
}
