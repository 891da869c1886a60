import { app, type InvocationContext, type Timer } from '@azure/functions';
import { planDeps, services } from '../src/composition/composition.js';
import { DAILY_SCHEDULE } from '../src/composition/settings.js';
import { planDailyRun, type PlanDeps } from '../src/usecases/daily/plan.js';

/**
 * Timer -> day queue: decides which days to report (yesterday, days with late events, days a price
 * card change affects) and queues one message per day for `reportDay`. It reports nothing itself,
 * so it ends in seconds however many days must be restated.
 */
export function makeDailyChargeback(deps: () => Promise<PlanDeps>) {
  return async function dailyChargeback(_timer: Timer, context: InvocationContext): Promise<void> {
    const plan = await planDailyRun(await deps());
    if (plan.pricesChangedFrom !== undefined) {
      context.warn(
        `dailyChargeback: the price card changed from ${plan.pricesChangedFrom}; restating the reported days since`,
      );
    }
    context.log(
      JSON.stringify({
        function: 'dailyChargeback',
        queued: plan.queued.map((m) => `${m.day} ${m.reason}`),
      }),
    );
  };
}

export const dailyChargeback = makeDailyChargeback(async () => planDeps(await services()));

app.timer('dailyChargeback', { schedule: DAILY_SCHEDULE, handler: dailyChargeback });
