import { app, type InvocationContext, type Timer } from '@azure/functions';
import { publishBudgetsDeps, services } from '../src/composition/composition.js';
import { publishBudgets, type PublishDeps } from '../src/usecases/budgets/publish-budgets.js';

/**
 * Every 10 seconds (BUDGET_SCHEDULE): the spend of each budget's current period, as ingest added
 * it, into the state document every sidecar reads, and a Teams card for each threshold reached
 * (once per threshold and period). A timer rather than a write after each ingest batch: one small
 * blob a few times a minute however many batches arrive, and the sidecars' refresh interval, not
 * the batch rate, sets the overshoot bound (docs/budgets.md). Without BUDGETS_PATH it does nothing.
 */
export const BUDGET_SCHEDULE = '*/10 * * * * *';

export function makePublishBudgets(deps: () => Promise<PublishDeps | undefined>) {
  return async function publishBudgetsTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const d = await deps();
    if (d === undefined) return;
    const published = await publishBudgets({
      ...d,
      log: (m) => {
        context.warn(`publishBudgets: ${m}`);
      },
    });
    const over = published.state.entries.filter((e) => e.over).length;
    if (published.cards.length > 0 || over > 0)
      context.log(
        JSON.stringify({
          function: 'publishBudgets',
          budgets: published.state.entries.length,
          over,
          cards: published.cards.length,
        }),
      );
  };
}

export const publishBudgetsTimer = makePublishBudgets(async () => publishBudgetsDeps(await services()));

app.timer('publishBudgets', { schedule: BUDGET_SCHEDULE, handler: publishBudgetsTimer });
