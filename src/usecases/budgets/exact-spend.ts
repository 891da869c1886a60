import type { Budget, BudgetsFile } from '../../domain/budgets/budgets.js';
import {
  checkDayName,
  estimateError,
  exactByScope,
  monthSpend,
  type ExactCost,
} from '../../domain/budgets/exact.js';
import type { Spent } from '../../domain/budgets/state.js';
import type { BudgetSpendStore } from '../../ports/budget-spend.js';

/** One scope's closed day: what ingest estimated, what the report says, and the relative error. */
export interface ScopeReconciled {
  readonly key: string;
  readonly estimate: Spent;
  readonly exact: Spent;
  /** (estimate - exact) / exact in dollars, null when exact is 0 (domain/budgets/exact.ts estimateError). */
  readonly error: number | null;
}

/**
 * Puts a closed day's exact figures from its daily report in place of the estimate: each budget
 * scope's exact spend that day, whole (a day reported again or restated replaces, never adds). The
 * day's estimate stays where ingest keeps it, so the error can be told and late events for the day
 * cancel out of the month (monthSpend). Returns each scope's estimate against its exact figure.
 */
export async function reconcileDay(
  budgets: BudgetsFile,
  spend: BudgetSpendStore,
  day: string,
  costs: readonly ExactCost[],
): Promise<ScopeReconciled[]> {
  checkDayName(day);
  const out: ScopeReconciled[] = [];
  for (const [key, exact] of exactByScope(budgets, costs)) {
    await spend.setExact(day, key, exact);
    const estimate = await spend.read('day', day, key);
    out.push({ key, estimate, exact, error: estimateError(estimate, exact) });
  }
  return out;
}

/**
 * A budget's spend in one period with its closed days exact: a day with an exact figure is that
 * figure; a month is its estimate with each closed day's estimate swapped for its exact figure.
 */
export async function spendWithExact(
  spend: BudgetSpendStore,
  budget: Budget,
  periodName: string,
): Promise<Spent> {
  if (budget.period === 'day') {
    const exact = (await spend.exactDays(periodName.slice(0, 7), budget.key)).get(periodName);
    return exact ?? (await spend.read('day', periodName, budget.key));
  }
  const estimate = await spend.read('month', periodName, budget.key);
  const closed = [];
  for (const [day, exact] of await spend.exactDays(periodName, budget.key))
    closed.push({ day, exact, estimate: await spend.read('day', day, budget.key) });
  return monthSpend(estimate, closed);
}
