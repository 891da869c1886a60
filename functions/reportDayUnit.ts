import { app, type InvocationContext } from '@azure/functions';
import { dayFanOut, driftSetup, services } from '../src/composition/composition.js';
import { bindingExpression, CONNECTIONS } from '../src/composition/settings.js';
import type { DayOutcome } from '../src/usecases/daily/daily-run.js';
import { dayWork, type DayWorkDeps } from '../src/usecases/day/day-work.js';
import type { DriftDeps } from '../src/usecases/drift/run-drift.js';
import { handleFanOutMessage, parseFanOutMessage, type FanOutDeps } from '../src/usecases/fan-out/fan-out.js';
import { afterDayOutcome, driftAfterDay } from './reportDay.js';

/** What the handler needs: the engine's ports, the day's work's, and drift's but the run id. */
export interface ReportDayUnitDeps {
  readonly fanOut: FanOutDeps;
  readonly work: DayWorkDeps;
  readonly drift?: Omit<DriftDeps, 'runId'>;
}

/**
 * Unit queue of fanned-out days (DAY_FAN_OUT=true) -> one unit of a day, or a round's fan-in (see
 * src/usecases/fan-out/fan-out.ts). A unit's or a fan-in's failure throws, so the host delivers the
 * message again and, after host.json `maxDequeueCount` tries, moves it to `<queue>-poison`.
 *
 * The worker whose fan-in commits the day's outcome does what reportDay does after a day computed
 * in one instance: logs it, restates a closed month, runs drift. A worker that dies between the
 * commit and those leaves them to the day's next report (a restatement, or the next daily run).
 */
export function makeReportDayUnit(deps: () => Promise<ReportDayUnitDeps>) {
  return async function reportDayUnit(message: unknown, context: InvocationContext): Promise<void> {
    const parsed = parseFanOutMessage(message);
    const d = await deps();
    const handled = await handleFanOutMessage(d.fanOut, dayWork(d.work), parsed, context);
    context.log(
      `reportDayUnit: ${parsed.job}: ${handled.unit === undefined ? '' : `unit ${handled.unit}; `}${handled.kind}: ${handled.detail}`,
    );
    if (handled.kind !== 'completed') return;
    const outcome = (await d.fanOut.store.outcome(parsed.job)) as unknown as DayOutcome | undefined;
    if (outcome === undefined) return;
    await afterDayOutcome(outcome, `fan-out job ${parsed.job}`, d.work, context);
    if (d.drift !== undefined) await driftAfterDay(outcome.day, d.drift, context);
  };
}

export const reportDayUnit = makeReportDayUnit(async () => {
  const s = await services();
  return { ...(await dayFanOut(s)), drift: driftSetup(s) };
});

app.storageQueue('reportDayUnit', {
  queueName: bindingExpression('DAY_WORK_QUEUE_NAME'),
  connection: CONNECTIONS.dayQueue,
  handler: reportDayUnit,
});
