import type { BudgetsFile } from '../../domain/budgets/budgets.js';
import { budgetCard } from '../../domain/budgets/card.js';
import { periodAt } from '../../domain/budgets/periods.js';
import { stateEntry, type BudgetState, type BudgetStateEntry } from '../../domain/budgets/state.js';
import type { BudgetSpendStore, BudgetStateSink } from '../../ports/budget-spend.js';
import type { Notifier } from '../../ports/notifier.js';
import { spendWithExact, SpendView } from './exact-spend.js';

export interface PublishDeps {
  readonly budgets: BudgetsFile;
  readonly spend: BudgetSpendStore;
  readonly sink: BudgetStateSink;
  /** Where threshold cards go; without it none is posted (nor claimed). */
  readonly notifier?: Notifier;
  readonly now: () => Date;
  readonly log?: (message: string) => void;
}

export interface Published {
  readonly state: BudgetState;
  /** The cards posted by this run: `<period>|<periodName>|<scope key>|<threshold>`. */
  readonly cards: readonly string[];
}

/**
 * Reads each budget's spend in its current period, closed days exact (exact-spend.ts), writes the state
 * document every sidecar polls, and posts a card for each threshold newly reached, once per
 * threshold and period across every instance (the claim is taken before the post; a post that
 * fails leaves the claim, so a card may be missed but never doubled, and the failure is logged).
 */
export async function publishBudgets(deps: PublishDeps): Promise<Published> {
  const nowMs = deps.now().getTime();
  const entries: BudgetStateEntry[] = [];
  const view = new SpendView(deps.spend);
  for (const b of deps.budgets.budgets) {
    const spent = await spendWithExact(deps.spend, b, periodAt(b.period, nowMs).name, view);
    entries.push(stateEntry(b, spent, nowMs));
  }
  const state: BudgetState = { version: 1, generatedAt: new Date(nowMs).toISOString(), entries };
  await deps.sink.write(JSON.stringify(state));
  const cards: string[] = [];
  if (deps.notifier !== undefined) {
    for (const [i, e] of entries.entries()) {
      for (const threshold of e.crossed) {
        const id = `${e.period}|${e.periodName}|${deps.budgets.budgets[i]?.key ?? ''}|${threshold}`;
        if (!(await deps.spend.claimCard(id))) continue;
        try {
          await deps.notifier.post(budgetCard(e, threshold));
          cards.push(id);
        } catch (error) {
          deps.log?.(`budget card ${id} not posted: ${(error as Error).message}`);
        }
      }
    }
  }
  return { state, cards };
}
