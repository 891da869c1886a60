import { app, type InvocationContext, type Timer } from '@azure/functions';
import { services } from '../src/composition/composition.js';
import type { ReportStore } from '../src/ports/report-store.js';
import { previousMonth, writeMonthlyReport } from '../src/usecases/monthly/monthly-report.js';

/**
 * On the 1st at 01:00 UTC (after the 00:30 daily run has queued the month's last day), the month
 * just ended: its CSV, page and summary from the latest revision of each day (contracts.md §12). A day of a
 * closed month restated later writes the month again (reportDay).
 */
export function makeMonthlyChargeback(deps: () => Promise<{ reports: ReportStore; now: () => Date }>) {
  return async function monthlyChargeback(_timer: Timer, context: InvocationContext): Promise<void> {
    const { reports, now } = await deps();
    const month = previousMonth(now().toISOString().slice(0, 7));
    const { period } = await writeMonthlyReport(reports, month, now());
    context.log(
      JSON.stringify({
        function: 'monthlyChargeback',
        month,
        daysReported: period.days.length,
        daysMissing: period.missing,
      }),
    );
  };
}

export const monthlyChargeback = makeMonthlyChargeback(async () => {
  const s = await services();
  return { reports: s.reports, now: () => new Date() };
});

app.timer('monthlyChargeback', {
  // NCRONTAB with seconds: 01:00:00 UTC on the 1st of every month.
  schedule: '0 0 1 1 * *',
  handler: monthlyChargeback,
});
