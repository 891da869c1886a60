/**
 * The `evaluation` event of a harness run (contracts.md §2.4), as it is written or sent. Besides
 * the contract's fields it carries `run` (unknown fields are kept and ignored, §2): how many cases
 * there were and which could not be completed, so a reader of the event alone sees a partial run.
 */
import type { CaseResult } from './results.js';
import { runMetrics } from './results.js';

export interface EvaluationRun {
  readonly eventId: string;
  readonly model: string;
  readonly modelVersion: string;
  readonly dataset: string;
  /** ISO-8601 with Z. */
  readonly evaluatedAt: string;
  readonly commit?: string;
  readonly tenant: string;
  readonly feature: string;
}

/** Case ids named in the event; the rest are in the cases file. */
const NAMED_CASES = 20;

export function evaluationEvent(run: EvaluationRun, results: readonly CaseResult[]): Record<string, unknown> {
  const notCompleted = results.filter((r) => r.status !== 'completed').map((r) => r.id);
  return {
    type: 'evaluation',
    schemaVersion: 1,
    eventId: run.eventId,
    model: run.model,
    modelVersion: run.modelVersion,
    dataset: run.dataset,
    metrics: runMetrics(results),
    evaluatedAt: run.evaluatedAt,
    ...(run.commit === undefined ? {} : { commit: run.commit }),
    run: {
      complete: notCompleted.length === 0,
      cases: results.length,
      notCompleted: notCompleted.length,
      notCompletedIds: notCompleted.slice(0, NAMED_CASES),
      tenant: run.tenant,
      feature: run.feature,
    },
  };
}
