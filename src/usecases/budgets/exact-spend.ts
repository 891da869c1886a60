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

const NONE: Spent = { nanos: 0, gpuMicros: 0 };

/**
 * The spend table as one publish reads it: each partition (a period's running figures of every
 * scope, a month's exact days) read once, however many budgets it serves. A month budget late in
 * the month needs its month's figure, the month's exact days and the estimate of each closed day:
 * read per budget, that was 31 Table requests a budget each publish (5 s for 100 budgets, measured
 * on Azurite); read per partition, it is at most 33 a publish.
 */
export class SpendView {
  private readonly periods = new Map<string, Promise<ReadonlyMap<string, Spent>>>();
  private readonly months = new Map<string, Promise<ReadonlyMap<string, ReadonlyMap<string, Spent>>>>();

  constructor(private readonly spend: BudgetSpendStore) {}

  async running(period: Budget['period'], periodName: string, key: string): Promise<Spent> {
    const id = `${period}-${periodName}`;
    let figures = this.periods.get(id);
    if (figures === undefined) {
      figures = this.spend.readPeriod(period, periodName);
      this.periods.set(id, figures);
    }
    return (await figures).get(key) ?? NONE;
  }

  async exactDays(month: string, key: string): Promise<ReadonlyMap<string, Spent>> {
    let exact = this.months.get(month);
    if (exact === undefined) {
      exact = this.spend.exactMonth(month);
      this.months.set(month, exact);
    }
    return (await exact).get(key) ?? new Map<string, Spent>();
  }
}

/**
 * A budget's spend in one period with its closed days exact: a day with an exact figure is that
 * figure; a month is its estimate with each closed day's estimate swapped for its exact figure.
 * Budgets published together share one `view`, so the table is read once per partition.
 */
export async function spendWithExact(
  spend: BudgetSpendStore,
  budget: Budget,
  periodName: string,
  view: SpendView = new SpendView(spend),
): Promise<Spent> {
  if (budget.period === 'day') {
    const exact = (await view.exactDays(periodName.slice(0, 7), budget.key)).get(periodName);
    return exact ?? (await view.running('day', periodName, budget.key));
  }
  const estimate = await view.running('month', periodName, budget.key);
  const closed = [];
  for (const [day, exact] of await view.exactDays(periodName, budget.key))
    closed.push({ day, exact, estimate: await view.running('day', day, budget.key) });
  return monthSpend(estimate, closed);
}
