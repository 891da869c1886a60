import { roundedDivide } from '../exact.js';
import { isRetraining, type DayReportInfo, type Period } from './monthly.js';
import {
  retrainingFigures,
  tenantFigures,
  type RetrainingFigure,
  type TenantFigure,
} from './tenant-figures.js';

/**
 * What the report page shows, computed from a period (a month or a day): every figure the charts
 * draw, in integer micro-dollars, so the page and the CSV cannot disagree. The renderer only lays
 * them out (html.ts).
 */
export interface FeatureFigure {
  readonly feature: string;
  readonly costMicros: bigint;
  readonly requests: bigint;
  readonly tokens: bigint;
  /** Cost per 1k tokens in micro-dollars (rounded half up); undefined without tokens. */
  readonly per1kTokensMicros?: bigint;
  /** Cost per feature per day, in the order of `PageModel.dates`. */
  readonly byDay: readonly bigint[];
}

export interface ModelIdle {
  readonly model: string;
  readonly idleMicros: bigint;
  readonly fleetMicros: bigint;
}

export interface Mover {
  readonly feature: string;
  /** Average cost a day before and after, in micro-dollars. */
  readonly beforeMicros: bigint;
  readonly afterMicros: bigint;
}

export interface ValueFigure {
  readonly feature: string;
  readonly costMicros: bigint;
  readonly valueMicros: bigint;
}

export interface PageModel {
  readonly title: string;
  readonly period: string;
  readonly currency: string;
  readonly generatedAt: string;
  readonly dates: readonly string[];
  readonly missing: readonly string[];
  readonly withoutMetrics: readonly string[];
  /** Serving features only: retraining rows are in `retraining`, idle in `models`. */
  readonly features: readonly FeatureFigure[];
  readonly tenants: readonly TenantFigure[];
  readonly retraining: readonly RetrainingFigure[];
  /** Of `allocatedMicros`, what the retraining jobs cost. */
  readonly retrainingMicros: bigint;
  /** Per day reported with a metrics file: its revision, generation time, rejected and unmetered. */
  readonly reports: readonly ({ readonly date: string } & DayReportInfo)[];
  readonly idleMicrosByDay: readonly bigint[];
  readonly models: readonly ModelIdle[];
  readonly movers: { readonly basis: string; readonly list: readonly Mover[] };
  readonly reconciliation: readonly { date: string; stated?: bigint; allocated: bigint; idle: bigint }[];
  readonly allocatedMicros: bigint;
  readonly idleMicros: bigint;
  readonly values?: readonly ValueFigure[];
}

/** Value per feature: a figure per request, or per month (contracts.md §12's value file). */
export interface FeatureValues {
  readonly [feature: string]: { readonly perRequestMicros?: bigint; readonly perMonthMicros?: bigint };
}

export function buildPageModel(input: {
  readonly title: string;
  readonly period: Period;
  readonly generatedAt: string;
  /** The period before, to find the movers; without it the first and second half are compared. */
  readonly previous?: Period;
  readonly values?: FeatureValues;
  /** Days in the whole month, to pro-rate a monthly value over a partial one. */
  readonly daysInPeriod: number;
}): PageModel {
  const { period } = input;
  const dates = period.days.map((d) => d.date);
  const features = featureFigures(period, dates);
  const models = new Map<string, { idle: bigint; fleet: bigint }>();
  for (const day of period.days) {
    for (const [model, fleet] of day.fleetByModel) {
      const entry = models.get(model) ?? { idle: 0n, fleet: 0n };
      entry.fleet += fleet;
      entry.idle += day.idleByModel.get(model) ?? 0n;
      models.set(model, entry);
    }
  }
  const model: PageModel = {
    title: input.title,
    period: period.period,
    currency: period.currency,
    generatedAt: input.generatedAt,
    dates,
    missing: period.missing,
    withoutMetrics: period.withoutMetrics,
    features,
    tenants: tenantFigures(period),
    retraining: retrainingFigures(period),
    retrainingMicros: period.days.reduce((sum, d) => sum + d.retrainingMicros, 0n),
    reports: period.days.flatMap((d) => (d.report === undefined ? [] : [{ date: d.date, ...d.report }])),
    idleMicrosByDay: period.days.map((d) => d.idleMicros),
    models: [...models.entries()]
      .map(([name, m]) => ({ model: name, idleMicros: m.idle, fleetMicros: m.fleet }))
      .sort((a, b) => (a.model < b.model ? -1 : 1)),
    movers: movers(period, input.previous),
    reconciliation: period.days.map((d) => ({
      date: d.date,
      ...(d.statedFleetMicros === undefined ? {} : { stated: d.statedFleetMicros }),
      allocated: d.allocatedMicros,
      idle: d.idleMicros,
    })),
    allocatedMicros: period.allocatedMicros,
    idleMicros: period.idleMicros,
  };
  if (input.values === undefined) return model;
  return { ...model, values: valueFigures(features, input.values, dates.length, input.daysInPeriod) };
}

function featureFigures(period: Period, dates: readonly string[]): FeatureFigure[] {
  const totals = new Map<string, { cost: bigint; requests: bigint; tokens: bigint }>();
  for (const row of period.rows) {
    if (row.idle || isRetraining(row)) continue;
    const entry = totals.get(row.feature) ?? { cost: 0n, requests: 0n, tokens: 0n };
    entry.cost += row.costMicros;
    entry.requests += row.requests;
    entry.tokens += row.promptTokens + row.completionTokens;
    totals.set(row.feature, entry);
  }
  return [...totals.entries()]
    .map(([feature, t]) => ({
      feature,
      costMicros: t.cost,
      requests: t.requests,
      tokens: t.tokens,
      ...(t.tokens > 0n ? { per1kTokensMicros: roundedDivide(t.cost * 1000n, t.tokens) } : {}),
      byDay: dates.map((date) => period.days.find((d) => d.date === date)?.byFeature.get(feature) ?? 0n),
    }))
    .sort((a, b) =>
      a.costMicros === b.costMicros ? (a.feature < b.feature ? -1 : 1) : a.costMicros > b.costMicros ? -1 : 1,
    );
}

/** Average daily cost per feature: this period against the previous one, or its halves. */
function movers(period: Period, previous: Period | undefined): PageModel['movers'] {
  const averages = (days: Period['days']): Map<string, bigint> => {
    const sums = new Map<string, bigint>();
    for (const day of days) for (const [f, c] of day.byFeature) sums.set(f, (sums.get(f) ?? 0n) + c);
    const n = BigInt(Math.max(1, days.length));
    return new Map([...sums].map(([f, c]) => [f, roundedDivide(c, n)]));
  };
  let before: Period['days'];
  let after: Period['days'];
  let basis: string;
  if (previous !== undefined && previous.days.length > 0) {
    [before, after] = [previous.days, period.days];
    basis = `average cost a day against ${previous.period}`;
  } else {
    const half = Math.floor(period.days.length / 2);
    [before, after] = [period.days.slice(0, half), period.days.slice(half)];
    basis = 'average cost a day, first half of the period against the second';
  }
  if (before.length === 0) return { basis: 'no earlier days to compare with', list: [] };
  const b = averages(before);
  const a = averages(after);
  const names = new Set([...b.keys(), ...a.keys()]);
  const list = [...names]
    .map((feature) => ({ feature, beforeMicros: b.get(feature) ?? 0n, afterMicros: a.get(feature) ?? 0n }))
    .filter((m) => m.beforeMicros !== m.afterMicros);
  const change = (m: Mover): bigint =>
    m.afterMicros > m.beforeMicros ? m.afterMicros - m.beforeMicros : m.beforeMicros - m.afterMicros;
  list.sort((x, y) =>
    change(x) === change(y) ? (x.feature < y.feature ? -1 : 1) : change(x) > change(y) ? -1 : 1,
  );
  return { basis, list: list.slice(0, 10) };
}

function valueFigures(
  features: readonly FeatureFigure[],
  values: FeatureValues,
  daysPresent: number,
  daysInPeriod: number,
): ValueFigure[] {
  const figures: ValueFigure[] = [];
  for (const f of features) {
    const value = values[f.feature];
    if (value === undefined) continue;
    let valueMicros = (value.perRequestMicros ?? 0n) * f.requests;
    // A monthly value counts for the days reported, so a partial month compares like with like.
    if (value.perMonthMicros !== undefined)
      valueMicros += roundedDivide(value.perMonthMicros * BigInt(daysPresent), BigInt(daysInPeriod));
    figures.push({ feature: f.feature, costMicros: f.costMicros, valueMicros });
  }
  // Ranked by value per dollar of GPU cost, best first: what the monthly review ranks features by.
  const ratio = (v: ValueFigure): number =>
    v.costMicros === 0n ? Infinity : Number(v.valueMicros) / Number(v.costMicros);
  return figures.sort((x, y) => ratio(y) - ratio(x) || (x.feature < y.feature ? -1 : 1));
}
