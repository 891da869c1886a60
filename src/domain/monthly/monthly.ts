import { addHistograms, quantile } from '../metrics/histogram.js';
import type { DailyMetrics, Histogram } from '../metrics/metrics.js';
import { CSV_COLUMNS, neutralise, unparseCsv } from '../report/csv.js';
import { formatScaled, roundedDivide } from '../exact.js';
import { RETRAINING_TENANT } from '../retrain/charge.js';
import type { DailyRow } from './daily-rows.js';

/**
 * A period's chargeback (a month, or one day for the day page), summed exactly from the daily
 * CSVs, with latency percentiles from the daily metrics' histograms summed bin by bin (contracts.md §8):
 * the p50 and p95 of a month are the upper edges of the bins that hold them, as drift reads them,
 * not the exact figures a daily CSV prints.
 */
export interface DayInput {
  readonly date: string;
  readonly rows: readonly DailyRow[];
  /** The day's metrics file; without it the day's requests add nothing to the percentiles. */
  readonly metrics?: DailyMetrics;
}

/** A daily row's figures summed over the days it appears on. */
export interface PeriodRow extends Omit<DailyRow, 'date'> {
  readonly days: number;
  readonly p50LatencyMs?: number;
  readonly p95LatencyMs?: number;
}

/** What a day's metrics file says of the report itself (contracts.md §4.8, §5): not in the CSV. */
export interface DayReportInfo {
  readonly revision: number;
  readonly generatedAt: string;
  readonly rejected: number;
  readonly unmeteredRequests: number;
}

export interface DayTotals {
  readonly date: string;
  /** Allocated cost, retraining included (the CSV's rows that are not idle). */
  readonly allocatedMicros: bigint;
  readonly idleMicros: bigint;
  /** Of the allocated cost, what retraining jobs (tenant `(retraining)`) cost. */
  readonly retrainingMicros: bigint;
  /** Undefined without a metrics file. */
  readonly report?: DayReportInfo;
  /** The fleet cost the day's metrics file states; undefined without one. */
  readonly statedFleetMicros?: bigint;
  /** Serving cost per feature: neither idle nor retraining (a retraining row's feature is its model). */
  readonly byFeature: ReadonlyMap<string, bigint>;
  readonly idleByModel: ReadonlyMap<string, bigint>;
  readonly fleetByModel: ReadonlyMap<string, bigint>;
}

export interface Period {
  readonly period: string;
  readonly currency: string;
  readonly days: readonly DayTotals[];
  /** Days of the period with no report, named (never counted as zero). */
  readonly missing: readonly string[];
  /** Days with a CSV but no metrics file: their requests are not in the percentiles. */
  readonly withoutMetrics: readonly string[];
  readonly rows: readonly PeriodRow[];
  readonly allocatedMicros: bigint;
  readonly idleMicros: bigint;
}

type Accumulating = { -readonly [K in keyof PeriodRow]: PeriodRow[K] };

export function buildPeriod(input: {
  readonly period: string;
  readonly currency: string;
  readonly days: readonly DayInput[];
  readonly missing: readonly string[];
}): Period {
  const rows = new Map<string, Accumulating>();
  const latencies = new Map<string, Histogram[]>();
  const edges = commonLatencyEdges(input.days);
  const totals: DayTotals[] = [];
  const withoutMetrics: string[] = [];
  for (const day of [...input.days].sort((a, b) => (a.date < b.date ? -1 : 1))) {
    for (const row of day.rows) add(rows, row);
    if (day.metrics === undefined) withoutMetrics.push(day.date);
    for (const group of day.metrics?.groups ?? []) {
      const key = keyOf(
        neutralise(group.tenant),
        neutralise(group.feature),
        neutralise(group.model),
        neutralise(group.requestClass),
      );
      const list = latencies.get(key) ?? [];
      list.push(group.histograms.latencyMs);
      latencies.set(key, list);
    }
    totals.push(dayTotals(day));
  }
  const finished = [...rows.entries()].map(([key, row]): PeriodRow => {
    const histogram = addHistograms(latencies.get(key) ?? []);
    if (row.idle || edges === undefined || histogram.length === 0) return row;
    return {
      ...row,
      p50LatencyMs: quantile(edges, histogram, 0.5),
      p95LatencyMs: quantile(edges, histogram, 0.95),
    };
  });
  finished.sort(compareRows);
  let allocatedMicros = 0n;
  let idleMicros = 0n;
  for (const row of finished) {
    if (row.idle) idleMicros += row.costMicros;
    else allocatedMicros += row.costMicros;
  }
  return {
    period: input.period,
    currency: input.currency,
    days: totals,
    missing: [...input.missing].sort(),
    withoutMetrics,
    rows: finished,
    allocatedMicros,
    idleMicros,
  };
}

/** A retraining job's row (src/domain/retrain/charge.ts): tenant `(retraining)`, feature = the model. */
export function isRetraining(row: { readonly tenant: string }): boolean {
  return row.tenant === RETRAINING_TENANT;
}

function keyOf(tenant: string, feature: string, model: string, requestClass: string): string {
  return JSON.stringify([tenant, feature, model, requestClass]);
}

function add(rows: Map<string, Accumulating>, row: DailyRow): void {
  const key = keyOf(row.tenant, row.feature, row.model, row.requestClass);
  const sum = rows.get(key);
  if (sum === undefined) {
    const { date: _, ...figures } = row;
    rows.set(key, { ...figures, days: 1 });
    return;
  }
  sum.days += 1;
  sum.requests += row.requests;
  sum.errorRequests += row.errorRequests;
  sum.promptTokens += row.promptTokens;
  sum.completionTokens += row.completionTokens;
  sum.cachedPromptTokens += row.cachedPromptTokens;
  sum.gpuMillis += row.gpuMillis;
  sum.costMicros += row.costMicros;
}

function dayTotals(day: DayInput): DayTotals {
  const byFeature = new Map<string, bigint>();
  const idleByModel = new Map<string, bigint>();
  const fleetByModel = new Map<string, bigint>();
  let allocatedMicros = 0n;
  let idleMicros = 0n;
  let retrainingMicros = 0n;
  for (const row of day.rows) {
    fleetByModel.set(row.model, (fleetByModel.get(row.model) ?? 0n) + row.costMicros);
    if (row.idle) {
      idleMicros += row.costMicros;
      idleByModel.set(row.model, (idleByModel.get(row.model) ?? 0n) + row.costMicros);
    } else {
      allocatedMicros += row.costMicros;
      if (isRetraining(row)) retrainingMicros += row.costMicros;
      else byFeature.set(row.feature, (byFeature.get(row.feature) ?? 0n) + row.costMicros);
    }
  }
  const metrics = day.metrics;
  const stated = metrics?.fleet.fleetCostUsd;
  return {
    date: day.date,
    allocatedMicros,
    idleMicros,
    retrainingMicros,
    ...(metrics === undefined
      ? {}
      : {
          report: {
            revision: metrics.revision,
            generatedAt: metrics.generatedAt,
            rejected: metrics.fleet.rejected,
            unmeteredRequests: metrics.fleet.unmeteredRequests,
          },
        }),
    ...(stated === undefined ? {} : { statedFleetMicros: BigInt(Math.round(stated * 1e6)) }),
    byFeature,
    idleByModel,
    fleetByModel,
  };
}

/** The latency bin edges every day's metrics share; undefined when none has metrics or they differ. */
function commonLatencyEdges(days: readonly DayInput[]): readonly number[] | undefined {
  let edges: readonly number[] | undefined;
  for (const day of days) {
    const these = day.metrics?.bins.latencyMs;
    if (these === undefined) continue;
    if (edges !== undefined && edges.join(',') !== these.join(',')) return undefined;
    edges = these;
  }
  return edges;
}

function compareRows(a: PeriodRow, b: PeriodRow): number {
  if (a.costMicros !== b.costMicros) return a.costMicros > b.costMicros ? -1 : 1;
  for (const column of ['tenant', 'feature', 'model', 'requestClass'] as const) {
    if (a[column] !== b[column]) return a[column] < b[column] ? -1 : 1;
  }
  return 0;
}

/** The daily columns with `month` for `date` and `days` after the keys (contracts.md §12). */
export const PERIOD_CSV_COLUMNS = [
  'month',
  ...CSV_COLUMNS.slice(1, 5),
  'days',
  ...CSV_COLUMNS.slice(5),
] as const;

/** The monthly CSV: the daily columns summed, a `days` column, rows by cost then keys (contracts.md §12). */
export function renderPeriodCsv(period: Period): string {
  const lines: string[][] = [];
  for (const row of period.rows) {
    const tokens = row.promptTokens + row.completionTokens;
    const blankForIdle = (value: bigint): string => (row.idle ? '' : value.toString());
    const cells = [
      period.period,
      row.tenant,
      row.feature,
      row.model,
      row.requestClass,
      String(row.days),
      row.requests.toString(),
      row.errorRequests.toString(),
      blankForIdle(row.promptTokens),
      blankForIdle(row.completionTokens),
      blankForIdle(row.cachedPromptTokens),
      formatScaled(row.gpuMillis, 3),
      formatScaled(row.costMicros, 6),
      tokens > 0n && !row.idle ? formatScaled(roundedDivide(row.costMicros * 1000n, tokens), 6) : '',
      row.p50LatencyMs === undefined ? '' : String(row.p50LatencyMs),
      row.p95LatencyMs === undefined ? '' : String(row.p95LatencyMs),
    ];
    lines.push(cells);
  }
  // The text cells come from the daily CSVs, already made safe; quoted as the daily CSV quotes them.
  return unparseCsv(PERIOD_CSV_COLUMNS, lines);
}
