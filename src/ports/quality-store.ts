/**
 * What the quality gate keeps (Table Storage in Azure, maps in tests): the evaluation history per
 * model, evaluation messages that could not be accepted, and the last verdict seen per model (so a
 * gate turning red is announced once, not on every timer tick).
 *
 * Evaluations are keyed by (model, eventId): adding one twice keeps one, so a redelivered batch
 * changes nothing (contracts.md §4.6 holds for evaluations too).
 */
import type { Evaluation, Verdict } from '../domain/gate/verdict.js';
import type { DeadLetter } from './ledger.js';

/** The last verdict the timer or a trigger stored for a model, with when it was judged. */
export interface StoredVerdict {
  readonly verdict: Verdict;
  /** ISO 8601. */
  readonly judgedAt: string;
}

export interface QualityStore {
  /** Adds evaluations; those whose (model, eventId) is already kept are left as they are. Returns how many were new. */
  addEvaluations(evaluations: readonly Evaluation[]): Promise<number>;
  /** Every kept evaluation of the model, oldest first by evaluatedAtUs, then eventId. */
  evaluations(model: string): Promise<Evaluation[]>;
  /** Every model with at least one kept evaluation, sorted. */
  models(): Promise<string[]>;
  /** Keeps evaluation messages that were refused, with their reasons; idempotent by (partition, sequenceNumber). */
  deadLetter(letters: readonly DeadLetter[]): Promise<void>;
  /** The refused evaluation messages, oldest first: for operators and tests. */
  deadLetters(): Promise<DeadLetter[]>;
  lastVerdict(model: string): Promise<StoredVerdict | undefined>;
  saveVerdict(model: string, verdict: StoredVerdict): Promise<void>;
}
