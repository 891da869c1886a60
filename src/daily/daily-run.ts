import { EventAccumulator } from '../domain/accumulator.js';
import type { IdlePolicy } from '../domain/chargeback.js';
import { parseRecordText } from '../domain/fast-parse.js';
import type { PriceCard } from '../domain/prices.js';
import { parseDay } from '../domain/timestamp.js';
import type { Weighting } from '../domain/weighting.js';
import type { Ledger, SegmentInfo } from '../ledger/ledger.js';
import { buildReport } from '../report/build.js';
import { formatMoney } from '../report/format.js';
import type { ReportStore } from '../reports/report-store.js';

export interface DailyDeps {
  readonly ledger: Ledger;
  readonly reports: ReportStore;
  readonly prices: PriceCard;
  readonly now: () => Date;
  readonly idle: IdlePolicy;
  readonly weighting: Weighting;
  /** How many days back late events still restate a report. */
  readonly restateDays: number;
}

export interface DayOutcome {
  readonly day: string;
  readonly revision: number;
  readonly restated: boolean;
  readonly events: number;
  readonly fleetCost: string;
  readonly allocatedCost: string;
  readonly idleCost: string;
}

const DAY_MS = 86_400_000;
// Clocks of the ingesting instances may run a little behind this one: commits stamped within this
// margin before a report was made may have been missed by it, so they restate the day once more.
const CLOCK_MARGIN_MS = 5 * 60_000;
const READ_CONCURRENCY = 8;

const dayString = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The days this run must (re)report: yesterday, and every earlier day that received events since its report. */
export async function daysToReport(
  deps: Pick<DailyDeps, 'ledger' | 'reports' | 'now' | 'restateDays'>,
): Promise<string[]> {
  const now = deps.now().getTime();
  const today = dayString(now);
  const days = new Set([dayString(now - DAY_MS)]);
  for (const dirty of await deps.ledger.dirtyDays(dayString(now - deps.restateDays * DAY_MS))) {
    if (dirty.day >= today) continue; // not over yet
    const info = await deps.reports.info(dirty.day);
    if (
      info === undefined ||
      Date.parse(dirty.lastCommitAt) > Date.parse(info.ledgerAsOf) - CLOCK_MARGIN_MS
    ) {
      days.add(dirty.day);
    }
  }
  return [...days].sort();
}

/** `dailyChargeback`: reports yesterday and restates the days that received late events. */
export async function runDailyChargeback(deps: DailyDeps): Promise<DayOutcome[]> {
  const outcomes: DayOutcome[] = [];
  for (const day of await daysToReport(deps)) outcomes.push(await reportDay(day, deps));
  return outcomes;
}

/** Builds one day's report from the ledger and stores it as the next revision. */
export async function reportDay(day: string, deps: DailyDeps): Promise<DayOutcome> {
  const bounds = parseDay(day);
  if (bounds === undefined) throw new RangeError(`not a day: ${day}`);
  const ledgerAsOf = deps.now().toISOString();
  const accumulator = new EventAccumulator(deps.prices);
  const segments = await deps.ledger.segmentsFor(day);
  await forEachConcurrently(segments, READ_CONCURRENCY, async (segment: SegmentInfo) => {
    const text = await deps.ledger.readSegment(segment);
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      if (end > start) accumulator.add(parseRecordText(text.slice(start, end), accumulator.intern));
      start = end + 1;
    }
  });
  // Messages rejected at ingestion count as read and rejected on the day they were enqueued.
  const deadLetters = await deps.ledger.deadLettersOn(day);
  const counts = {
    ...accumulator.counts,
    eventsRead: accumulator.counts.eventsRead + deadLetters,
    rejected: accumulator.counts.rejected + deadLetters,
  };
  const previous = await deps.reports.info(day);
  const revision = (previous?.revision ?? 0) + 1;
  const report = buildReport({
    date: day,
    dayStart: bounds.start,
    dayEnd: bounds.end,
    usage: accumulator.usage(),
    capacity: accumulator.capacity(),
    counts,
    prices: deps.prices,
    weighting: deps.weighting,
    idle: deps.idle,
    revision,
    generatedAt: deps.now().toISOString(),
  });
  await deps.reports.write(day, report.csv, report.summary, { revision, ledgerAsOf });
  return {
    day,
    revision,
    restated: previous !== undefined,
    events: counts.eventsRead,
    fleetCost: formatMoney(report.result.fleetNanos),
    allocatedCost: formatMoney(report.result.allocatedNanos),
    idleCost: formatMoney(report.result.idleNanos),
  };
}

async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
