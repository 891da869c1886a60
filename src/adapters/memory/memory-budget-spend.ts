import type { BudgetPeriod } from '../../domain/budgets/budgets.js';
import type { Spent } from '../../domain/budgets/state.js';
import type { BudgetSpendStore, BudgetStateSink, SpendAddition } from '../../ports/budget-spend.js';

/** Budget spend in memory (tests, the command line). */
export class MemoryBudgetSpend implements BudgetSpendStore, BudgetStateSink {
  private readonly figures = new Map<string, { nanos: number; gpuMicros: number; batches: Set<string> }>();
  private readonly cards = new Set<string>();
  private readonly exact = new Map<string, Map<string, Spent>>();
  /** The last state document written. */
  state: string | undefined;

  add(batchId: string, additions: readonly SpendAddition[]): Promise<void> {
    for (const a of additions) {
      const id = `${a.period}\n${a.periodName}\n${a.key}`;
      const f = this.figures.get(id) ?? { nanos: 0, gpuMicros: 0, batches: new Set<string>() };
      if (!f.batches.has(batchId)) {
        f.batches.add(batchId);
        f.nanos += a.nanos;
        f.gpuMicros += a.gpuMicros;
      }
      this.figures.set(id, f);
    }
    return Promise.resolve();
  }

  read(period: BudgetPeriod, periodName: string, key: string): Promise<Spent> {
    const f = this.figures.get(`${period}\n${periodName}\n${key}`);
    return Promise.resolve({ nanos: f?.nanos ?? 0, gpuMicros: f?.gpuMicros ?? 0 });
  }

  claimCard(id: string): Promise<boolean> {
    if (this.cards.has(id)) return Promise.resolve(false);
    this.cards.add(id);
    return Promise.resolve(true);
  }

  setExact(day: string, key: string, exact: Spent): Promise<void> {
    const id = `${day.slice(0, 7)}\n${key}`;
    const days = this.exact.get(id) ?? new Map<string, Spent>();
    days.set(day, { nanos: exact.nanos, gpuMicros: exact.gpuMicros });
    this.exact.set(id, days);
    return Promise.resolve();
  }

  readPeriod(period: BudgetPeriod, periodName: string): Promise<ReadonlyMap<string, Spent>> {
    const out = new Map<string, Spent>();
    const prefix = `${period}\n${periodName}\n`;
    for (const [id, f] of this.figures)
      if (id.startsWith(prefix)) out.set(id.slice(prefix.length), { nanos: f.nanos, gpuMicros: f.gpuMicros });
    return Promise.resolve(out);
  }

  exactMonth(month: string): Promise<ReadonlyMap<string, ReadonlyMap<string, Spent>>> {
    const out = new Map<string, ReadonlyMap<string, Spent>>();
    const prefix = `${month}\n`;
    for (const [id, days] of this.exact)
      if (id.startsWith(prefix)) out.set(id.slice(prefix.length), new Map(days));
    return Promise.resolve(out);
  }

  write(text: string): Promise<void> {
    this.state = text;
    return Promise.resolve();
  }
}
