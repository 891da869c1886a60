import type { BudgetPeriod } from '../domain/budgets/budgets.js';
import type { Spent } from '../domain/budgets/state.js';

/** What one batch adds to one budget's running figure in one period. */
export interface SpendAddition {
  /** The budget's scope key (budgets.ts scopeKey). */
  readonly key: string;
  readonly period: BudgetPeriod;
  /** `2026-12-07` or `2026-12`. */
  readonly periodName: string;
  readonly nanos: number;
  readonly gpuMicros: number;
}

/**
 * The running spend of each budget scope and period, shared by every ingest instance. `add`
 * applies a batch's additions at most once per `batchId` (a redelivered batch adds nothing again),
 * without losing a concurrent instance's additions; it rejects with a TransientError when it
 * cannot. `claimCard` is true exactly once per id: the card for one threshold of one period.
 */
export interface BudgetSpendStore {
  add(batchId: string, additions: readonly SpendAddition[]): Promise<void>;
  read(period: BudgetPeriod, periodName: string, key: string): Promise<Spent>;
  claimCard(id: string): Promise<boolean>;
  /**
   * The exact spend of one scope on one closed day (`2026-12-07`), from the daily report: put
   * whole, so a day reported again replaces its figure, never adds to it.
   */
  setExact(day: string, key: string, exact: Spent): Promise<void>;
  /**
   * Every scope's running figure of one period at once, by scope key (scopes with none are
   * absent): one partition read, whatever the number of budgets.
   */
  readPeriod(period: BudgetPeriod, periodName: string): Promise<ReadonlyMap<string, Spent>>;
  /** Every scope's closed days of one month (`2026-12`) with an exact figure, by scope key and day. */
  exactMonth(month: string): Promise<ReadonlyMap<string, ReadonlyMap<string, Spent>>>;
}

/** Where the state document goes (a blob every sidecar reads). */
export interface BudgetStateSink {
  write(text: string): Promise<void>;
}
