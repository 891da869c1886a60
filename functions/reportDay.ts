import { app, type InvocationContext } from '@azure/functions';
import { dailyDeps, services } from '../src/composition/composition.js';
import { createDriftServices, driftDeps, type DriftServices } from '../src/composition/drift-composition.js';
import { bindingExpression, CONNECTIONS } from '../src/composition/settings.js';
import { reportDayIfStale, type DailyDeps } from '../src/usecases/daily/daily-run.js';
import { parseDayMessage } from '../src/usecases/restate/restate.js';
import { runDrift, type DriftDeps } from '../src/usecases/drift/run-drift.js';

/**
 * Day queue -> reports: one day per message. A failure throws, so the host makes the message
 * visible again and, after host.json `extensions.queues.maxDequeueCount` tries, moves it to
 * `<queue>-poison`. The day stays marked dirty, so the next daily run queues it again.
 *
 * One message per day, not per Event Hubs partition: the day is already computed partition by
 * partition inside the invocation (holding one partition in memory), a million-event day takes
 * seconds, and the partial results would otherwise need a store and a last step to merge them.
 */
export function makeReportDay(
  deps: () => Promise<DailyDeps>,
  drift: (runId: string) => Promise<DriftDeps | undefined> = () => Promise.resolve(undefined),
) {
  return async function reportDay(message: unknown, context: InvocationContext): Promise<void> {
    await report(message, context);
    // Drift after the report, and never at its expense: a failure is logged, and a retry of the
    // message (or the next day's run, through the outbox and the lifecycle) picks it up again.
    const request = parseDayMessage(message);
    try {
      const d = await drift(context.invocationId);
      if (d === undefined) return;
      const run = await runDrift(request.day, d);
      if (run !== undefined)
        context.log(
          `reportDay: drift ${request.day}: ${run.report.alerts.length} alert(s), ${run.report.resolved.length} resolved, ` +
            `${run.posts.length} post(s): ${run.delivery.sent.length} sent, ${run.delivery.queued.length} waiting in the outbox`,
        );
    } catch (error) {
      context.error(`reportDay: drift ${request.day} failed: ${(error as Error).message}`);
    }
  };

  async function report(message: unknown, context: InvocationContext): Promise<void> {
    const request = parseDayMessage(message);
    const outcome = await reportDayIfStale(request.day, await deps(), (m) => {
      context.warn(`reportDay: ${m}`);
    });
    if (outcome === 'current') {
      context.log(`reportDay: ${request.day} (${request.reason}): the stored report is current`);
      return;
    }
    const what = outcome.unchanged ? 'unchanged' : outcome.restated ? 'restated' : 'reported';
    context.log(
      `reportDay: ${outcome.day} (${request.reason}) revision ${outcome.revision} ${what}: ` +
        `fleet ${outcome.fleetCost} = allocated ${outcome.allocatedCost} + idle ${outcome.idleCost} USD, ${outcome.events} events`,
    );
  }
}

let driftShared: Promise<DriftServices> | undefined;

export const reportDay = makeReportDay(
  async () => dailyDeps(await services()),
  async (runId) => {
    const s = await services();
    driftShared ??= createDriftServices(s).catch((error: unknown) => {
      driftShared = undefined;
      throw error;
    });
    return driftDeps(s, await driftShared, runId);
  },
);

app.storageQueue('reportDay', {
  queueName: bindingExpression('RESTATE_QUEUE_NAME'),
  connection: CONNECTIONS.dayQueue,
  handler: reportDay,
});
