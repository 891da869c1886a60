import { covers, type BudgetsFile } from '../../domain/budgets/budgets.js';
import { periodAt } from '../../domain/budgets/periods.js';
import type { SpendAddition } from '../../ports/budget-spend.js';

/** One accepted usage event's estimated cost, with what its budgets are matched on. */
export interface EventSpend {
  readonly tenant: string;
  readonly feature: string;
  /** The event's end, in ms: the period it is counted in. */
  readonly atMs: number;
  readonly nanos: number;
  readonly gpuMicros: number;
}

/**
 * The events' costs summed per budget and period: what a committed segment adds. A month budget's
 * scope is also summed per day (the same row a day budget on that scope adds to), so the daily
 * report's exact figure can replace that day's share of the month (usecases/budgets/exact-spend.ts).
 */
export function spendAdditions(file: BudgetsFile, spends: readonly EventSpend[]): SpendAddition[] {
  const sums = new Map<
    string,
    { key: string; period: 'day' | 'month'; periodName: string; nanos: number; gpuMicros: number }
  >();
  for (const s of spends) {
    if (s.nanos === 0 && s.gpuMicros === 0) continue;
    for (const b of file.budgets) {
      if (!covers(b.scope, s.tenant, s.feature)) continue;
      // A month budget's scope also keeps its day's estimate: what that day's exact figure replaces.
      const periods = b.period === 'day' ? (['day'] as const) : (['month', 'day'] as const);
      for (const period of periods) {
        const periodName = periodAt(period, s.atMs).name;
        const id = `${period}\n${periodName}\n${b.key}`;
        const sum = sums.get(id) ?? { key: b.key, period, periodName, nanos: 0, gpuMicros: 0 };
        sum.nanos += s.nanos;
        sum.gpuMicros += s.gpuMicros;
        sums.set(id, sum);
      }
    }
  }
  return [...sums.values()];
}
