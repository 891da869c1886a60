import type { AlertState, PostKind } from '../domain/drift/lifecycle.js';

/**
 * Where the drift alerts' lifecycle is kept (Table Storage in Azure).
 *
 * Exactly one post per (day, alert, kind), whatever runs at once: `claim` creates a row keyed by
 * the three and only the run that creates it may post; a second run of the same day (a retry, a
 * restatement, another instance) finds the row and posts nothing.
 */
export interface AlertStore {
  /** Every alert state (open and resolved): a fleet has tens of them, not thousands. */
  states(): Promise<AlertState[]>;
  /** Writes the states a run changed (last writer wins: runs of one day write the same states). */
  save(states: readonly AlertState[]): Promise<void>;
  /** True for the one caller that claims this post first; false for every later one. */
  claim(day: string, id: string, kind: PostKind): Promise<boolean>;
}
