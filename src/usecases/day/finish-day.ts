/**
 * The last stage of a day, the same for the command line and the Functions: the merged chargeback
 * rendered (CSV, summary, metrics), the units' runs of requests' costs merged into the day's file
 * as it is written, the report stored (summary last: it is the commit), and the day's page drawn
 * from what the run holds, with the day before read from the store.
 */
import type { CalibrationRecord } from '../../domain/calibration/calibrate.js';
import type { IntakeCounts } from '../../domain/accumulator.js';
import type { ChargebackResult } from '../../domain/chargeback.js';
import type { BudgetScopeMetrics } from '../../domain/metrics/metrics.js';
import { renderReport, type Report } from '../../domain/report/build.js';
import type { RunInfo, RunStorage } from '../../ports/byte-sink.js';
import {
  dayPagePath,
  type DailyReportSource,
  type ReportStore,
  type StoredReportInfo,
} from '../../ports/report-store.js';
import { dayPage } from '../monthly/monthly-report.js';
import { mergeRequestRuns } from '../requests/request-runs.js';
import type { DaySettings } from './unit.js';

export interface FinishInput {
  readonly settings: DaySettings;
  readonly calibration?: readonly CalibrationRecord[];
  /** With spend budgets: the day's estimate error per scope, for the metrics file. */
  readonly budgets?: readonly BudgetScopeMetrics[];
  readonly counts: IntakeCounts;
  readonly revision: number;
  readonly generatedAt: string;
  /** The day's chargeback, exact, without per-request costs. */
  readonly chargeback: ChargebackResult;
  /** The units' runs of requests' costs, and where they are. */
  readonly runs: readonly RunInfo[];
  readonly storage: RunStorage;
}

/** Renders the day's report (no writing): what the unchanged check and the outcome need. */
export function renderDay(input: Omit<FinishInput, 'runs' | 'storage'>): Report {
  const { settings } = input;
  return renderReport(
    {
      date: settings.date,
      prices: settings.prices,
      weighting: settings.weighting,
      idle: settings.idle,
      counts: input.counts,
      revision: input.revision,
      generatedAt: input.generatedAt,
      ...(input.calibration === undefined ? {} : { calibration: input.calibration }),
      ...(input.budgets === undefined ? {} : { budgets: input.budgets }),
    },
    input.chargeback,
  );
}

/** Writes the day: the requests' file streamed from the runs, the report, then its page. */
export async function persistDay(
  reports: ReportStore,
  input: FinishInput,
  info: StoredReportInfo,
  now: Date,
  report: Report = renderDay(input),
): Promise<Report> {
  const day = input.settings.date;
  // The merge closes the sink when the file is whole, and aborts it on failure.
  const index = await mergeRequestRuns(
    day,
    input.revision,
    input.runs.map((run) => input.storage.read(run.name)),
    reports.requestsSink(day),
  );
  await reports.write(
    day,
    {
      csv: report.csv,
      summary: report.summary,
      metrics: report.metrics,
      focus: report.focus,
      requests: { index },
    },
    info,
  );
  await writeHeldDayPage(reports, day, report, now);
  return report;
}

/** The day's page from the report held, the day before from the store. */
export async function writeHeldDayPage(
  reports: DailyReportSource & Pick<ReportStore, 'writeDocument'>,
  day: string,
  report: Pick<Report, 'csv' | 'metrics'>,
  now: Date,
): Promise<void> {
  const source: DailyReportSource = {
    csv: (d) => (d === day ? Promise.resolve(report.csv) : reports.csv(d)),
    metrics: (d) => (d === day ? Promise.resolve(report.metrics) : reports.metrics(d)),
  };
  await reports.writeDocument(dayPagePath(day), await dayPage(source, day, now), 'text/html; charset=utf-8');
}
