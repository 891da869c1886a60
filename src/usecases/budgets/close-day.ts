import type { BudgetsFile } from '../../domain/budgets/budgets.js';
import type { ExactCost } from '../../domain/budgets/exact.js';
import { budgetEstimateAlerts, type BudgetEstimateDay } from '../../domain/drift/budget-rules.js';
import { alertMessage } from '../../domain/drift/card.js';
import type { DriftAlert } from '../../domain/drift/labels.js';
import type { BudgetEstimateRule } from '../../domain/drift/rules.js';
import type { BudgetSpendStore } from '../../ports/budget-spend.js';
import type { Notifier } from '../../ports/notifier.js';
import { reconcileDay } from './exact-spend.js';

const NANOS_PER_USD = 1e9;
const MICROS_PER_HOUR = 3.6e9;

/** The budget estimate's error for one scope and closed day: the metric the daily run emits. */
export interface BudgetEstimateMetric extends BudgetEstimateDay {
  readonly day: string;
  readonly estimateGpuHours: number;
  readonly exactGpuHours: number;
  /** (estimate - exact) / exact in dollars; 0 when both are 0, 1 when only the exact is 0. */
  readonly relativeError: number;
}

export interface CloseBudgetDayDeps {
  readonly budgets: BudgetsFile;
  readonly spend: BudgetSpendStore;
  readonly rule: BudgetEstimateRule;
  /** Ids of budgetEstimateError alerts open before this day (held down to the clear level). */
  readonly open?: ReadonlySet<string>;
  /** Where an alert's card goes; without it none is posted. */
  readonly notifier?: Notifier;
  readonly log?: (message: string) => void;
}

export interface ClosedBudgetDay {
  readonly metrics: readonly BudgetEstimateMetric[];
  readonly alerts: readonly DriftAlert[];
}

/**
 * What the daily run does for budgets once a day's report is stored: the day's exact costs
 * replace the estimate of every budget scope for that day (exact-spend.ts), the estimate's error
 * per scope is the metric, and the budgetEstimateError rule judges it; each alert is posted as a
 * card (a post that fails is logged: the exact figures are in place either way).
 */
export async function closeBudgetDay(
  deps: CloseBudgetDayDeps,
  day: string,
  costs: readonly ExactCost[],
): Promise<ClosedBudgetDay> {
  const reconciled = await reconcileDay(deps.budgets, deps.spend, day, costs);
  const scopes = new Map(deps.budgets.budgets.map((b) => [b.key, b.scope]));
  const metrics = reconciled.map((r): BudgetEstimateMetric => ({
    day,
    scope: scopes.get(r.key) ?? {},
    estimateUsd: r.estimate.nanos / NANOS_PER_USD,
    exactUsd: r.exact.nanos / NANOS_PER_USD,
    estimateGpuHours: r.estimate.gpuMicros / MICROS_PER_HOUR,
    exactGpuHours: r.exact.gpuMicros / MICROS_PER_HOUR,
    relativeError: r.error,
  }));
  const alerts = budgetEstimateAlerts(deps.rule, metrics, deps.open ?? new Set());
  if (deps.notifier !== undefined) {
    const report = { date: day, baselineDays: 0, alerts, resolved: [] };
    for (const alert of alerts) {
      try {
        await deps.notifier.post(alertMessage(alert, report));
      } catch (error) {
        deps.log?.(`budget estimate card ${alert.id} not posted: ${(error as Error).message}`);
      }
    }
  }
  return { metrics, alerts };
}
