/**
 * The queue of days to report: one message per day, each reported by its own invocation, so that a
 * month of restatements runs as thirty short invocations (in parallel where the host scales out)
 * instead of one that outlives the function timeout. Delivery is at least once: a day may be
 * reported twice, which reportDay makes harmless (see src/usecases/daily/daily-run.ts).
 */

/** Why a day was queued: for the logs and for an operator reading the queue. */
export type DayReason = 'yesterday' | 'late-events' | 'price-change' | 'on-demand';

export interface DayMessage {
  /** The UTC day to report, YYYY-MM-DD. */
  readonly day: string;
  readonly reason: DayReason;
  /** When the day was queued (ISO 8601). */
  readonly requestedAt: string;
  /**
   * With WEIGHTING=calibrated: fit the day's step costs anew from the ledger as it is, instead of
   * keeping the constants stored with the day (an operator's restatement only).
   */
  readonly refit?: true;
}

export interface DayQueue {
  /** Queues one message per day; a failure may leave some queued, so callers mark the days dirty first. */
  enqueue(messages: readonly DayMessage[]): Promise<void>;
}
