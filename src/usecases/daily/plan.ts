import type { DayMessage, DayQueue } from '../../ports/day-queue.js';
import { daysToReport, type DailyDeps } from './daily-run.js';
import { markPriceChanges, type PriceChangeDeps } from './price-changes.js';

export type PlanDeps = DailyDeps & PriceChangeDeps & { readonly dayQueue: DayQueue };

export interface Plan {
  /** One message per day, as queued. */
  readonly queued: readonly DayMessage[];
  /** The first day the price card changed, when it did since the last run. */
  readonly pricesChangedFrom?: string;
}

/**
 * `dailyChargeback`: decides which days to report and queues one message per day; `reportDay`
 * reports each. Only decisions run here, so the timer's invocation stays short however many days
 * late data or a price correction touch. A day that fails to queue is still marked dirty in the
 * ledger, so the next run queues it again.
 */
export async function planDailyRun(deps: PlanDeps): Promise<Plan> {
  const prices = await markPriceChanges(deps);
  const repriced = new Set(prices.days);
  const requestedAt = deps.now().toISOString();
  const yesterday = new Date(deps.now().getTime() - 86_400_000).toISOString().slice(0, 10);
  const queued = (await daysToReport(deps)).map((day): DayMessage => ({
    day,
    reason: repriced.has(day) ? 'price-change' : day === yesterday ? 'yesterday' : 'late-events',
    requestedAt,
  }));
  await deps.dayQueue.enqueue(queued);
  return prices.changedFrom === undefined ? { queued } : { queued, pricesChangedFrom: prices.changedFrom };
}
