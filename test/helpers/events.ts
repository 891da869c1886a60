import Papa from 'papaparse';
import { EventAccumulator } from '../../src/domain/accumulator.js';
import type { IdlePolicy } from '../../src/domain/chargeback.js';
import { parseRecord } from '../../src/domain/fast-parse.js';
import { loadPriceCard, type PriceCard } from '../../src/domain/prices.js';
import { parseDay } from '../../src/domain/days.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../../src/domain/weighting.js';
import { buildReport, type Report } from '../../src/domain/report/build.js';

/** The day most tests report, and its neighbours, written out so no test derives them from the code under test. */
export const DAY = '2026-11-22';
export const DAY_BEFORE = '2026-11-21';
export const DAY_AFTER = '2026-11-23';
export const ONE_GPU = 'TEST_NC_1GPU';
export const EIGHT_GPU = 'TEST_ND_8GPU';

/** $3.60 per VM-hour for one GPU: exactly $0.001 per GPU-second, so costs can be checked by hand. */
export const TEST_PRICES: PriceCard = loadPriceCard({
  currency: 'USD',
  skus: [
    { sku: ONE_GPU, gpusPerVm: 1, pricePerVmHour: 3.6, effectiveFrom: '2026-01-01T00:00:00Z' },
    { sku: EIGHT_GPU, gpusPerVm: 8, pricePerVmHour: 28.8, effectiveFrom: '2026-01-01T00:00:00Z' },
  ],
});

/** An instant on DAY, given as seconds after midnight UTC (negative: the day before). */
export function at(seconds: number): string {
  return new Date(Date.parse(`${DAY}T00:00:00Z`) + seconds * 1000).toISOString();
}

let counter = 0;

export function usage(fields: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    type: 'usage',
    schemaVersion: 1,
    eventId: `u-${counter}`,
    requestId: `r-${counter}`,
    tenant: 'acme',
    feature: 'chat',
    model: 'llama-8b',
    requestClass: 'interactive',
    pod: 'pod-a',
    gpuSku: ONE_GPU,
    gpuCount: 1,
    startedAt: at(10),
    firstTokenAt: null,
    finishedAt: at(20),
    promptTokens: 100,
    completionTokens: 50,
    status: 'ok',
    ...fields,
  };
}

export function capacity(fields: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    type: 'capacity',
    schemaVersion: 1,
    eventId: `c-${counter}`,
    pod: 'pod-a',
    gpuSku: ONE_GPU,
    gpuCount: 1,
    model: 'llama-8b',
    windowStart: at(0),
    windowEnd: at(100),
    ...fields,
  };
}

export function evaluation(fields: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    type: 'evaluation',
    schemaVersion: 1,
    eventId: `e-${counter}`,
    model: 'llama-8b',
    modelVersion: '3',
    dataset: 'golden@1',
    metrics: { exact_match: 0.8 },
    evaluatedAt: at(5),
    ...fields,
  };
}

export interface DayOptions {
  date?: string;
  prices?: PriceCard;
  idle?: IdlePolicy;
  weighting?: Weighting;
  keepRequests?: boolean;
}

export interface DayReport extends Report {
  rows: Record<string, string>[];
  summaryJson: Record<string, unknown>;
  rejections: string[];
}

/** Runs events (objects or raw lines) through intake and the report, as the CLI does. */
export function runDay(
  events: readonly (Record<string, unknown> | string)[],
  options: DayOptions = {},
): DayReport {
  const date = options.date ?? DAY;
  const day = parseDay(date);
  if (day === undefined) throw new Error(`bad date ${date}`);
  const prices = options.prices ?? TEST_PRICES;
  const accumulator = new EventAccumulator(prices);
  const rejections: string[] = [];
  for (const event of events) {
    const text = typeof event === 'string' ? event : JSON.stringify(event);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      rejections.push(accumulator.add({ ok: false, reason: 'not valid JSON' }) ?? '');
      continue;
    }
    const reason = accumulator.add(parseRecord(value, accumulator.intern));
    if (reason !== undefined) rejections.push(reason);
  }
  for (const conflict of accumulator.conflicts()) rejections.push(conflict.reason);
  const report = buildReport({
    date,
    dayStart: day.start,
    dayEnd: day.end,
    usage: accumulator.usage(),
    capacity: accumulator.capacity(),
    counts: accumulator.counts,
    prices,
    weighting: options.weighting ?? { kind: 'time-share' },
    idle: options.idle ?? 'separate',
    keepRequests: options.keepRequests ?? false,
    revision: 1,
    generatedAt: `${DAY_AFTER}T00:30:00.000Z`,
  });
  const rows = Papa.parse<Record<string, string>>(report.csv, { header: true, skipEmptyLines: true }).data;
  return { ...report, rows, summaryJson: JSON.parse(report.summary) as Record<string, unknown>, rejections };
}

export { DEFAULT_WEIGHTING };

/** The row of a tenant (and feature, when given). */
export function rowOf(report: DayReport, tenant: string, feature?: string): Record<string, string> {
  const row = report.rows.find(
    (r) => r.tenant === tenant && (feature === undefined || r.feature === feature),
  );
  if (row === undefined) throw new Error(`no row for ${tenant}/${feature ?? '*'} in\n${report.csv}`);
  return row;
}
