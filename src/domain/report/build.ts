import type { CalibrationRecord } from '../calibration/calibrate.js';
import type { IntakeCounts } from '../accumulator.js';
import { computeChargeback, type ChargebackInput, type ChargebackResult } from '../chargeback.js';
import { buildMetrics, renderMetrics } from '../metrics/build.js';
import type { BudgetScopeMetrics, DailyMetrics } from '../metrics/metrics.js';
import { renderDayFocus } from '../focus/focus.js';
import { renderCsv } from './csv.js';
import { roundForPrint } from './rounding.js';
import { renderSummary } from './summary.js';

export interface ReportRequest extends ChargebackInput {
  /** The calibration behind `weightingFor`, for the summary (see calibration/calibrate.ts). */
  readonly calibration?: readonly CalibrationRecord[];
  /** With spend budgets: each scope's estimate against its exact figure, for the metrics file. */
  readonly budgets?: readonly BudgetScopeMetrics[];
  readonly counts: IntakeCounts;
  readonly revision: number;
  readonly generatedAt: string;
}

export interface Report {
  readonly csv: string;
  readonly summary: string;
  /** `metrics-DATE.json` (contracts.md §8), as written. */
  readonly metrics: string;
  /** `focus-DATE.csv` (contracts.md §15): the CSV's charges in the FinOps FOCUS format, adding up to it exactly. */
  readonly focus: string;
  readonly dailyMetrics: DailyMetrics;
  /** The chargeback as printed: money in whole micro-dollars that add up (see roundForPrint). */
  readonly result: ChargebackResult;
}

/** The daily report of contracts.md §5 and §8 from accepted events: the same code for the CLI and the Functions. */
export function buildReport(request: ReportRequest): Report {
  return renderReport(request, computeChargeback(request));
}

/** The report of an already computed (or merged) chargeback. */
export function renderReport(
  request: Omit<ReportRequest, 'usage' | 'capacity' | 'dayStart' | 'dayEnd'>,
  exact: ChargebackResult,
): Report {
  const result = roundForPrint(exact);
  let csvMicros = 0;
  for (const row of result.rows) csvMicros += row.nanos / 1000;
  const csv = renderCsv(request.date, result);
  const summary = renderSummary(
    {
      date: request.date,
      revision: request.revision,
      generatedAt: request.generatedAt,
      currency: request.prices.currency,
      counts: request.counts,
      idlePolicy: request.idle,
      weighting: request.weighting,
      ...(request.calibration === undefined ? {} : { calibration: request.calibration }),
      csvCostTotalUsd: csvMicros / 1e6,
    },
    result,
  );
  const dailyMetrics = buildMetrics(
    {
      date: request.date,
      revision: request.revision,
      generatedAt: request.generatedAt,
      currency: request.prices.currency,
      counts: request.counts,
      ...(request.calibration === undefined ? {} : { calibration: request.calibration }),
      ...(request.budgets === undefined ? {} : { budgets: request.budgets }),
    },
    result,
  );
  const focus = renderDayFocus(request.date, result, { currency: request.prices.currency });
  return { csv, summary, metrics: renderMetrics(dailyMetrics), focus, dailyMetrics, result };
}
