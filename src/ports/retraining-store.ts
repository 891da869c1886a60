/**
 * Where retraining keeps its records and its shared state (see src/domain/retrain/record.ts for why
 * the state is one record). Both are written conditionally: `expected` is the version read, and
 * undefined means "only if there is none yet".
 */
import type { JobRecord, RetrainingState } from '../domain/retrain/record.js';

export type WriteOutcome = 'written' | 'conflict';

export interface Versioned<T> {
  readonly value: T;
  /** Opaque version for the conditional write; undefined when nothing is stored yet. */
  readonly version: string | undefined;
}

export interface RetrainingStore {
  /** The shared state (EMPTY_STATE with version undefined before the first write). */
  state(): Promise<Versioned<RetrainingState>>;
  putState(state: RetrainingState, expected: string | undefined): Promise<WriteOutcome>;
  job(name: string): Promise<Versioned<JobRecord> | undefined>;
  /** Stores the record if the stored one is still `expected` (undefined: only if there is none). */
  putJob(record: JobRecord, expected: string | undefined): Promise<WriteOutcome>;
  /** Every record, oldest decision first (a few per model per month: small). */
  jobs(): Promise<JobRecord[]>;
}
