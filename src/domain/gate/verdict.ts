/**
 * The quality gate's vocabulary (contracts.md §10): an evaluation as the gate reads it, and the verdict it
 * gives. Pure data; the rules are in rules.ts and the judgement in judge.ts.
 */
import type { EvaluationEvent } from '../events.js';
import { formatTimestamp } from '../timestamp.js';

/** One regression-harness result, as kept in the history (contracts.md §2 `evaluation`). */
export interface Evaluation {
  readonly eventId: string;
  readonly model: string;
  readonly modelVersion: string;
  /** `name@version` of the held-out set. */
  readonly dataset: string;
  readonly metrics: Readonly<Record<string, number>>;
  /** ISO 8601 UTC (formatTimestamp: milliseconds, or microseconds when the event had them). */
  readonly evaluatedAt: string;
  /** The same instant in microseconds since the epoch: what ordering and ages use. */
  readonly evaluatedAtUs: number;
  readonly commit?: string;
}

/**
 * Why a gate failed, in two kinds that decide what happens next:
 * - `quality`: the evaluation is there, current and on the right dataset, and a metric is out of its
 *   bound (min, max or maxDrop). Retraining can help.
 * - `evidence`: the gate cannot tell (no rules, no evaluation, a stale one, the wrong dataset, a
 *   missing or non-finite metric). The gate is red, and retraining would not fix it.
 */
export interface GateFailure {
  readonly kind: 'quality' | 'evidence';
  /** The metric it concerns, when it concerns one. */
  readonly metric?: string;
  /** One line a person reads, naming the metric, the value and the bound. */
  readonly reason: string;
}

/** The verdict as contracts.md §10 prints it and writes it with `--out`. */
export interface Verdict {
  readonly model: string;
  readonly modelVersion: string | null;
  readonly verdict: 'pass' | 'fail';
  readonly reasons: readonly string[];
  /** eventId of the judged evaluation, or null when there was none. */
  readonly evaluation: string | null;
  /** The dataset the judged evaluation used, or null when there was none. */
  readonly dataset: string | null;
}

/** A verdict with what produced it: the one object both the printed text and the exit code come from. */
export interface Judgement {
  readonly verdict: Verdict;
  readonly failures: readonly GateFailure[];
  /** The evaluation judged (the latest at the instant of judgement), when there was one. */
  readonly latest?: Evaluation;
  /** The instant judged at, ISO 8601. */
  readonly at: string;
}

/** True when the gate failed on quality alone: every failure is a metric out of its bound. */
export function retrainable(judgement: Judgement): boolean {
  return (
    judgement.verdict.verdict === 'fail' &&
    judgement.failures.length > 0 &&
    judgement.failures.every((f) => f.kind === 'quality')
  );
}

/** The evaluation a validated event carries. */
export function evaluationOf(event: EvaluationEvent): Evaluation {
  return {
    eventId: event.eventId,
    model: event.model,
    modelVersion: event.modelVersion,
    dataset: event.dataset,
    metrics: { ...event.metrics },
    evaluatedAt: formatTimestamp(event.evaluatedAt),
    evaluatedAtUs: event.evaluatedAt,
    ...(event.commit === undefined ? {} : { commit: event.commit }),
  };
}

/** The job contracts.md §10's `--retrain` verdict names. */
export interface JobSummary {
  readonly name: string;
  readonly status: string;
  readonly estimatedCostUsd: number;
}

/** What a retraining attempt came to: the job, or null and why there is none. */
export interface RetrainOutcome {
  readonly job: JobSummary | null;
  /** Why no job (refused over budget, one already running, cooling down, not a quality failure), or a note on the job. */
  readonly reason?: string;
}
