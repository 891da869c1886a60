import { app, type InvocationContext } from '@azure/functions';
import { dailyDeps, dayFanOut, driftSetup, services } from '../src/composition/composition.js';
import { bindingExpression, CONNECTIONS } from '../src/composition/settings.js';
import { reportDayIfStale, type DailyDeps, type DayOutcome } from '../src/usecases/daily/daily-run.js';
import { startDay } from '../src/usecases/day/day-work.js';
import { startJob } from '../src/usecases/fan-out/fan-out.js';
import { runDrift, type DriftDeps, type DriftOutcome } from '../src/usecases/drift/run-drift.js';
import { parseDayMessage } from '../src/usecases/restate/restate.js';
import { closedMonthOf, writeMonthlyReport } from '../src/usecases/monthly/monthly-report.js';

/** What the handler needs: the daily report's ports and, when drift runs, its ports but the run id. */
export type ReportDayDeps = DailyDeps & {
  readonly drift?: Omit<DriftDeps, 'runId'>;
  /** With DAY_FAN_OUT: starts the day as a fan-out job (src/usecases/day/day-work.ts) instead of computing it. */
  readonly startDay?: (day: string, log: (m: string) => void) => ReturnType<typeof startDay>;
};

/**
 * Day queue -> reports, then drift: one day per message. A report failure throws, so the host makes
 * the message visible again and, after host.json `extensions.queues.maxDequeueCount` tries, moves
 * it to `<queue>-poison`. The day stays marked dirty, so the next daily run queues it again.
 *
 * One message per day, not per Event Hubs partition: the day is already computed partition by
 * partition inside the invocation (holding one partition in memory), a million-event day takes
 * seconds, and the partial results would otherwise need a store and a last step to merge them.
 * With DAY_FAN_OUT=true the day is started as a fan-out job instead (one message per partition on
 * DAY_WORK_QUEUE_NAME, run by reportDayUnit.ts, whose fan-in reports and runs drift): an unchanged
 * day is kept here at once, and its drift runs here.
 *
 * Drift runs after the report, also when the stored report was current (a redelivered message runs
 * it again, harmlessly: the lifecycle claims each post once). A drift failure is logged and does not
 * fail the message: the report is done, and retrying it would put a good day in the poison queue
 * over an alerting problem. The next day's run catches up: the outbox goes out first, and an alert
 * whose post was never delivered is raised again.
 */
export function makeReportDay(deps: () => Promise<ReportDayDeps>) {
  let warnedNoTeams = false;
  return async function reportDay(message: unknown, context: InvocationContext): Promise<void> {
    const request = parseDayMessage(message);
    const d = await deps();
    if (d.startDay !== undefined) {
      // The fan-in of the job (reportDayUnit) reports the day and runs drift after it.
      const started = await d.startDay(request.day, (m) => {
        context.warn(`reportDay: ${m}`);
      });
      if ('job' in started) {
        context.log(
          `reportDay: ${request.day} (${request.reason}): fan-out job ${started.job} ${started.started}`,
        );
        return;
      }
      await afterDayOutcome(started.kept, request.reason, d, context);
    } else {
      const outcome = await reportDayIfStale(
        request.day,
        request.refit === true ? { ...d, refit: true } : d,
        (m) => {
          context.warn(`reportDay: ${m}`);
        },
      );
      if (outcome === 'current') {
        context.log(`reportDay: ${request.day} (${request.reason}): the stored report is current`);
      } else {
        await afterDayOutcome(outcome, request.reason, d, context);
      }
    }
    if (d.drift === undefined) return;
    if (d.drift.notifier === undefined && !warnedNoTeams) {
      warnedNoTeams = true;
      context.warn(
        'reportDay: TEAMS_WEBHOOK_URL is not set: drift alerts are computed and stored, not posted',
      );
    }
    await driftAfterDay(request.day, d.drift, context);
  };
}

/**
 * What follows a day's outcome, wherever it was computed (here, or in the fan-in of reportDayUnit):
 * the outcome logged, a day with input and nothing billable logged as an error, and the closed
 * month restated when the day has a new revision.
 */
export async function afterDayOutcome(
  outcome: DayOutcome,
  reason: string,
  d: Pick<DailyDeps, 'reports' | 'now'>,
  context: Pick<InvocationContext, 'log' | 'error'>,
): Promise<void> {
  const what = outcome.unchanged ? 'unchanged' : outcome.restated ? 'restated' : 'reported';
  context.log(
    `reportDay: ${outcome.day} (${reason}) revision ${outcome.revision} ${what}: ` +
      `fleet ${outcome.fleetCost} = allocated ${outcome.allocatedCost} + idle ${outcome.idleCost} USD, ${outcome.events} events`,
  );
  // contracts.md §6: a day with input and nothing billable is a failure someone must see, not a quiet day.
  // The report stands (it is what the ledger holds); the error log is what alerting watches.
  if (outcome.nothingBillable !== undefined)
    context.error(`reportDay: ${outcome.day}: nothing billable: ${outcome.nothingBillable}`);
  // A new revision of a day of a month already reported restates the month (contracts.md §12).
  const month = outcome.unchanged ? undefined : closedMonthOf(outcome.day, d.now());
  if (month !== undefined) {
    await writeMonthlyReport(d.reports, month, d.now());
    context.log(
      `reportDay: ${outcome.day} is in the closed month ${month}: its monthly report is written again`,
    );
  }
}

/** Drift after a day's report: a failure is logged and does not fail the message (see makeReportDay). */
export async function driftAfterDay(
  day: string,
  drift: Omit<DriftDeps, 'runId'>,
  context: Pick<InvocationContext, 'log' | 'error' | 'invocationId'>,
): Promise<void> {
  try {
    const outcome = await runDrift(day, { ...drift, runId: context.invocationId });
    context.log(`reportDay: ${day} drift: ${driftLine(outcome)}`);
  } catch (error) {
    context.error(`reportDay: ${day} drift failed (the report stands): ${String(error)}`);
  }
}

function driftLine(o: DriftOutcome | undefined): string {
  if (o === undefined) return 'no metrics file for the day';
  const parts = [
    `${o.alerts} alerts, ${o.resolved} resolved over ${o.baselineDays} baseline days`,
    `${o.posts} posts due to this run`,
  ];
  if (o.lost > 0) parts.push(`${o.lost} already claimed by another run`);
  if (o.unreadableDays.length > 0) parts.push(`unreadable history: ${o.unreadableDays.join(' ')}`);
  const d = o.delivery;
  if (d !== undefined) {
    parts.push(`${d.sent.length} cards sent, ${d.queued.length} queued in the outbox`);
    if (d.dropped.length > 0) parts.push(`dropped from the outbox: ${d.dropped.join(' ')}`);
    if (d.error !== undefined) parts.push(`Teams: ${d.error}`);
  }
  return parts.join('; ');
}

export const reportDay = makeReportDay(async () => {
  const s = await services();
  const daily = dailyDeps(s);
  if (!s.config.dayFanOut) return { ...daily, drift: driftSetup(s) };
  const { fanOut } = await dayFanOut(s);
  return {
    ...daily,
    drift: driftSetup(s),
    startDay: (day, log) =>
      startDay(day, daily, (job, plan, units) => startJob(fanOut, job, plan, units), log),
  };
});

app.storageQueue('reportDay', {
  queueName: bindingExpression('RESTATE_QUEUE_NAME'),
  connection: CONNECTIONS.dayQueue,
  handler: reportDay,
});
