import type { BudgetPeriod, BudgetScope, BudgetsFile } from '../../domain/budgets/budgets.js';
import type { ExactCost } from '../../domain/budgets/exact.js';
import { NO_EXACT_SPEND, type BudgetScopeMetrics } from '../../domain/metrics/metrics.js';
import type { BudgetSpendStore } from '../../ports/budget-spend.js';
import { reconcileDay } from './exact-spend.js';

const NANOS_PER_USD = 1e9;
const MICROS_PER_HOUR = 3.6e9;

export interface CloseBudgetDayDeps {
  readonly budgets: BudgetsFile;
  readonly spend: BudgetSpendStore;
}

/**
 * What the daily run does for budgets before a day's files are stored: the day's exact costs
 * replace the estimate of every budget scope for that day (exact-spend.ts, put whole, so running
 * it again for the same costs changes nothing), and each scope's estimate against its exact figure
 * is returned for the day's metrics file (contracts.md §8), sorted by tenant then feature, where
 * drift judges it (rule budgetEstimateError, src/domain/drift/budget-rules.ts).
 */
export async function closeBudgetDay(
  deps: CloseBudgetDayDeps,
  day: string,
  costs: readonly ExactCost[],
): Promise<BudgetScopeMetrics[]> {
  const reconciled = await reconcileDay(deps.budgets, deps.spend, day, costs);
  const scopes = new Map<string, { scope: BudgetScope; periods: Set<BudgetPeriod> }>();
  for (const b of deps.budgets.budgets) {
    const entry = scopes.get(b.key) ?? { scope: b.scope, periods: new Set<BudgetPeriod>() };
    entry.periods.add(b.period);
    scopes.set(b.key, entry);
  }
  return reconciled
    .map((r): BudgetScopeMetrics => {
      const entry = scopes.get(r.key);
      return {
        scope: entry?.scope ?? {},
        periods: PERIODS.filter((p) => entry?.periods.has(p) === true),
        estimateUsd: r.estimate.nanos / NANOS_PER_USD,
        exactUsd: r.exact.nanos / NANOS_PER_USD,
        estimateGpuHours: r.estimate.gpuMicros / MICROS_PER_HOUR,
        exactGpuHours: r.exact.gpuMicros / MICROS_PER_HOUR,
        relativeError: r.error,
        ...(r.error === null ? { reason: NO_EXACT_SPEND } : {}),
      };
    })
    .sort((a, b) => compare(a.scope.tenant, b.scope.tenant) || compare(a.scope.feature, b.scope.feature));
}

const PERIODS: readonly BudgetPeriod[] = ['day', 'month'];

/** Absent names first (a feature budget over all tenants before any tenant's), then code unit order. */
function compare(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}
