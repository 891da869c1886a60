import { app, type InvocationContext, type Timer } from '@azure/functions';
import { dailyDeps, services } from '../src/composition/composition.js';
import { runDailyChargeback, type DailyDeps } from '../src/usecases/daily/daily-run.js';

/** Timer -> reports: yesterday's chargeback, and restatements of days that received late events. */
export function makeDailyChargeback(deps: () => Promise<DailyDeps>) {
  return async function dailyChargeback(_timer: Timer, context: InvocationContext): Promise<void> {
    const outcomes = await runDailyChargeback(await deps(), (message) => {
      context.warn(`dailyChargeback: ${message}`);
    });
    for (const o of outcomes) {
      context.log(
        `dailyChargeback: ${o.day} revision ${o.revision}${o.restated ? ' (restated)' : ''}: ` +
          `fleet ${o.fleetCost} = allocated ${o.allocatedCost} + idle ${o.idleCost} USD, ${o.events} events`,
      );
    }
  };
}

export const dailyChargeback = makeDailyChargeback(async () => dailyDeps(await services()));

// 00:30 UTC every day (NCRONTAB: second minute hour day month weekday); Linux plans run in UTC.
app.timer('dailyChargeback', { schedule: '0 30 0 * * *', handler: dailyChargeback });
