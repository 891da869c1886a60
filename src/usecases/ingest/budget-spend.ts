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

/** The events' costs summed per budget and period: what a committed segment adds. */
export function spendAdditions(file: BudgetsFile, spends: readonly EventSpend[]): SpendAddition[] {
  const sums = new Map<
    string,
    { key: string; period: 'day' | 'month'; periodName: string; nanos: number; gpuMicros: number }
  >();
  for (const s of spends) {
    if (s.nanos === 0 && s.gpuMicros === 0) continue;
    for (const b of file.budgets) {
      if (!covers(b.scope, s.tenant, s.feature)) continue;
      const periodName = periodAt(b.period, s.atMs).name;
      const id = `${b.period}\n${periodName}\n${b.key}`;
      const sum = sums.get(id) ?? { key: b.key, period: b.period, periodName, nanos: 0, gpuMicros: 0 };
      sum.nanos += s.nanos;
      sum.gpuMicros += s.gpuMicros;
      sums.set(id, sum);
    }
  }
  return [...sums.values()];
}
