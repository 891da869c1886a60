import { writeDayPage } from '../monthly/monthly-report.js';
import {
  EventAccumulator,
  mergeIntake,
  noCounts,
  type Intake,
  type IntakeCounts,
} from '../../domain/accumulator.js';
import {
  computeChargeback,
  type ChargebackInput,
  type ChargebackResult,
  type IdlePolicy,
} from '../../domain/chargeback.js';
import { parseRecordText } from '../../domain/fast-parse.js';
import type { PriceCard } from '../../domain/prices.js';
import { mergeChargeback } from '../../domain/merge-chargeback.js';
import { addDays, dayOfMs, parseDay, previousDay } from '../../domain/days.js';
import type { Weighting } from '../../domain/weighting.js';
import { retrainingRecords, type RetrainingRun } from '../../domain/retrain/charge.js';
import type { DirtyDay, Ledger, SegmentInfo } from '../../ports/ledger.js';
import { renderReport } from '../../domain/report/build.js';
import { formatMoney } from '../../domain/report/format.js';
import { nothingBillable } from '../../domain/report/nothing-billable.js';
import type { ReportFiles, ReportStore, StoredReportInfo } from '../../ports/report-store.js';
import { buildRequestFile } from '../requests/request-file.js';
import { DayCalibration, type CalibrationRecord } from '../../domain/calibration/calibrate.js';
import { parseMetrics } from '../../domain/metrics/build.js';

export interface DailyDeps {
  readonly ledger: Ledger;
  readonly reports: ReportStore;
  readonly prices: PriceCard;
  readonly now: () => Date;
  readonly idle: IdlePolicy;
  readonly weighting: Weighting;
  /**
   * Fit each deployment's step costs from the day's requests (WEIGHTING=calibrated), `weighting`
   * where the fit is not trusted. The fit is stored in the day's metrics and reused on restatement.
   */
  readonly calibrated?: boolean;
  /** With `calibrated`: ignore the constants stored with the day and fit them anew (a restatement asked so). */
  readonly refit?: boolean;
  /** How many days back late events still restate a report. */
  readonly restateDays: number;
  /** Retraining jobs that ran (src/domain/retrain/charge.ts): charged as tenant `(retraining)`. */
  readonly retrainingRuns?: () => Promise<readonly RetrainingRun[]>;
}

export interface DayOutcome {
  readonly day: string;
  readonly revision: number;
  readonly restated: boolean;
  /** True when the day was computed again and came out byte for byte as stored: no new revision. */
  readonly unchanged: boolean;
  readonly events: number;
  readonly fleetCost: string;
  readonly allocatedCost: string;
  readonly idleCost: string;
  /**
   * Set when the day had input and nothing billable (SPEC 6, src/domain/report/nothing-billable.ts):
   * why, with what was read. The report is still stored (it is what the ledger holds), and the
   * caller logs this as an error, so the day does not pass for a quiet one.
   */
  readonly nothingBillable?: string;
}

// Clocks of the ingesting instances may run a little behind this one: commits stamped within this
// margin before a report was made may have been missed by it, so they restate the day once more.
const CLOCK_MARGIN_MS = 5 * 60_000;
const READ_CONCURRENCY = 8;

/** The days this run must (re)report: yesterday, and every earlier day that received events since its report. */
export async function daysToReport(
  deps: Pick<DailyDeps, 'ledger' | 'reports' | 'now' | 'restateDays'>,
): Promise<string[]> {
  const today = dayOfMs(deps.now().getTime());
  const days = new Set([previousDay(today)]);
  for (const dirty of await deps.ledger.dirtyDays(addDays(today, -deps.restateDays))) {
    if (dirty.day >= today) continue; // not over yet
    if (isStale(dirty, await deps.reports.info(dirty.day))) days.add(dirty.day);
  }
  return [...days].sort();
}

/** A day's report is stale when there is none, or when a segment of the day may have been committed after it was made. */
function isStale(dirty: DirtyDay | undefined, info: StoredReportInfo | undefined): boolean {
  if (info === undefined) return true;
  return (
    dirty !== undefined && Date.parse(dirty.lastCommitAt) > Date.parse(info.ledgerAsOf) - CLOCK_MARGIN_MS
  );
}

/**
 * Reports a queued day unless its stored report is current, i.e. the day's latest dirty mark is
 * older than the report (by the clock margin). A second message for a day reported a moment ago
 * is then skipped, or, inside the margin, computed again and found unchanged (see reportDay).
 */
export async function reportDayIfStale(
  day: string,
  deps: DailyDeps,
  log: (m: string) => void = () => undefined,
): Promise<DayOutcome | 'current'> {
  const dirty = (await deps.ledger.dirtyDays(day)).find((d) => d.day === day);
  if (!isStale(dirty, await deps.reports.info(day))) return 'current';
  return reportDay(day, deps, log);
}

/**
 * Builds one day's report from the ledger and stores it as the next revision, or, when it comes out
 * byte for byte as stored, keeps the stored revision (see sameAsStored). The partition key is
 * the pod, so every pod's events sit in one Event Hubs partition: the day is computed partition by
 * partition and the results merged, exactly (see mergeChargeback), holding one partition's events at
 * a time. Should a pod turn up in two partitions (the hub's partition count changed that day), the
 * day is computed again in one pass over everything, which is always right and needs more memory.
 */
export async function reportDay(
  day: string,
  deps: DailyDeps,
  log: (m: string) => void = () => undefined,
): Promise<DayOutcome> {
  const bounds = parseDay(day);
  if (bounds === undefined) throw new RangeError(`not a day: ${day}`);
  const ledgerAsOf = deps.now().toISOString();
  const segments = await deps.ledger.segmentsFor(day);
  const stored =
    deps.calibrated !== true ? undefined : deps.refit === true ? [] : await storedCalibration(day, deps, log);
  const newCalibration = (): DayCalibration | undefined =>
    stored === undefined ? undefined : new DayCalibration(deps.weighting, stored);
  const input: DayInput = {
    date: day,
    dayStart: bounds.start,
    dayEnd: bounds.end,
    prices: deps.prices,
    weighting: deps.weighting,
    idle: deps.idle,
    keepRequests: true,
  };
  let calibration = newCalibration();
  let computed = await byPartition(segments, deps, input, calibration);
  if (computed === undefined) {
    log(`${day}: a pod's events span Event Hubs partitions; computing the day in one pass`);
    const accumulator = await accumulate(segments, deps);
    calibration = newCalibration();
    calibration?.add(accumulator.usage());
    calibration?.fit();
    computed = {
      result: computeChargeback({
        ...withCalibration(input, calibration),
        usage: accumulator.usage(),
        capacity: accumulator.capacity(),
      }),
      intake: accumulator.intake(),
    };
  }
  // Messages rejected at ingestion count as read and rejected on the day they were enqueued.
  const deadLetters = await deps.ledger.deadLettersOn(day);
  const intake = mergeIntake(computed.intake, {
    counts: { ...noCounts(), eventsRead: deadLetters, rejected: deadLetters },
    // Each dead letter keeps its own reason in the ledger (docs/operations.md, "Dead letters pile
    // up"); the daily run counts them only.
    rejections: new Map(
      deadLetters > 0
        ? [[`rejected at ingestion (reasons in the ledger's deadletter/${day}/)`, deadLetters]]
        : [],
    ),
  });
  const counts = intake.counts;
  // Judged on the events alone: a retraining job's cost that day is not input read (see withRetraining).
  const empty = nothingBillable(day, intake, computed.result);
  computed = { ...computed, result: await withRetraining(computed.result, deps, input) };
  const previous = await deps.reports.info(day);
  const rendered = calibration === undefined ? input : { ...input, calibration: calibration.records() };
  const unchanged =
    previous === undefined ? undefined : await sameAsStored(day, deps, rendered, counts, computed.result);
  if (unchanged !== undefined) {
    // The same ledger state gives the same bytes: keep the revision and its generation time, and
    // only move ledgerAsOf on, so the day is not chosen again for the same commits.
    // The metrics are written again too: a report stored before they existed gets them, with the
    // stored revision and generation time they are rendered with.
    await deps.reports.write(day, await withRequests(day, unchanged.revision, unchanged), {
      revision: unchanged.revision,
      ledgerAsOf,
    });
    await writeDayPage(deps.reports, day, deps.now());
    return outcome(day, unchanged, true, true, counts.eventsRead, empty);
  }
  const revision = (previous?.revision ?? 0) + 1;
  const report = renderReport(
    { ...rendered, counts, revision, generatedAt: deps.now().toISOString() },
    computed.result,
  );
  await deps.reports.write(day, await withRequests(day, revision, report), { revision, ledgerAsOf });
  // The day's page (SPEC 12), read back from what was just stored, with the day before for movers.
  await writeDayPage(deps.reports, day, deps.now());
  return outcome(day, { ...report, revision }, previous !== undefined, false, counts.eventsRead, empty);
}

/** The report's files with its per-request costs (src/usecases/requests/request-file.ts). */
async function withRequests(
  day: string,
  revision: number,
  report: ReturnType<typeof renderReport>,
): Promise<ReportFiles> {
  const file = await buildRequestFile(day, revision, report.result.requestCosts ?? []);
  return { csv: report.csv, summary: report.summary, metrics: report.metrics, requests: file };
}

function outcome(
  day: string,
  report: Pick<ReturnType<typeof renderReport>, 'result'> & { revision: number },
  restated: boolean,
  unchanged: boolean,
  events: number,
  nothingBillable: string | undefined,
): DayOutcome {
  return {
    day,
    revision: report.revision,
    restated,
    unchanged,
    events,
    fleetCost: formatMoney(report.result.fleetNanos),
    allocatedCost: formatMoney(report.result.allocatedNanos),
    idleCost: formatMoney(report.result.idleNanos),
    ...(nothingBillable === undefined ? {} : { nothingBillable }),
  };
}

/**
 * The stored report, when rendering the day again with the stored revision and generation time
 * gives exactly its bytes; undefined when anything differs (or the stored summary is unreadable).
 */
async function sameAsStored(
  day: string,
  deps: DailyDeps,
  input: DayInput & { readonly calibration?: readonly CalibrationRecord[] },
  counts: IntakeCounts,
  result: ChargebackResult,
): Promise<(ReturnType<typeof renderReport> & { revision: number }) | undefined> {
  const [csv, summary] = await Promise.all([deps.reports.csv(day), deps.reports.summary(day)]);
  if (csv === undefined || summary === undefined) return undefined;
  let stored: { revision?: unknown; generatedAt?: unknown };
  try {
    stored = JSON.parse(summary) as typeof stored;
  } catch {
    return undefined;
  }
  if (typeof stored.revision !== 'number' || typeof stored.generatedAt !== 'string') return undefined;
  const again = renderReport(
    { ...input, counts, revision: stored.revision, generatedAt: stored.generatedAt },
    result,
  );
  return again.csv === csv && again.summary === summary ? { ...again, revision: stored.revision } : undefined;
}

type DayInput = Omit<ChargebackInput, 'usage' | 'capacity'>;

/** The day's input with the calibration's weighting per deployment, when calibrating. */
function withCalibration(input: DayInput, calibration: DayCalibration | undefined): DayInput {
  return calibration === undefined ? input : { ...input, weightingFor: calibration.weightingFor };
}

/**
 * The fitted constants an earlier revision of the day stored in its metrics file (none for a
 * first report). A stored file that cannot be read is logged and the constants are fitted anew.
 */
async function storedCalibration(
  day: string,
  deps: DailyDeps,
  log: (m: string) => void,
): Promise<readonly CalibrationRecord[]> {
  const text = await deps.reports.metrics(day);
  if (text === undefined) return [];
  try {
    return parseMetrics(text).calibration ?? [];
  } catch (error) {
    log(
      `${day}: the stored metrics file cannot be read (${(error as Error).message}); fitting the step costs anew`,
    );
    return [];
  }
}

/**
 * The serving chargeback with the retraining jobs that ran during the day added as pods of their
 * own: disjoint from the serving pods, so the merge is exact, and outside the intake counts (they
 * are not events read).
 */
async function withRetraining(
  serving: ChargebackResult,
  deps: DailyDeps,
  input: DayInput,
): Promise<ChargebackResult> {
  if (deps.retrainingRuns === undefined) return serving;
  const { usage, capacity } = retrainingRecords(await deps.retrainingRuns(), input.dayStart, input.dayEnd);
  if (usage.length === 0) return serving;
  return mergeChargeback([serving, computeChargeback({ ...input, usage, capacity })]);
}

/**
 * The day partition by partition, or undefined when some pod's events are in more than one partition.
 * When calibrating, a partition with a deployment that has no stored fitted constants waits until
 * every partition has given its equations and the fit is made; it is then read again and computed
 * with the fitted constants (so a day's first report reads those partitions twice, and holds one
 * partition's events and every request's equation, 5 numbers, at a time).
 */
async function byPartition(
  segments: readonly SegmentInfo[],
  deps: DailyDeps,
  input: DayInput,
  calibration: DayCalibration | undefined,
): Promise<{ result: ChargebackResult; intake: Intake } | undefined> {
  const partitions = new Map<string, SegmentInfo[]>();
  for (const segment of segments) {
    const list = partitions.get(segment.partition) ?? [];
    list.push(segment);
    partitions.set(segment.partition, list);
  }
  const home = new Map<string, string>(); // pod -> partition
  // eventId (hashed, to hold 4 bytes per event, not the ids) -> partition: versions of one eventId in
  // two partitions must meet in one accumulator (SPEC 4.6); a hash collision only costs the one pass.
  const idHome = new Map<number, string>();
  // In partition order, whichever pass computed them: the merge then sees the same order on a
  // first report and on a restatement that reuses the stored fit.
  const results: (ChargebackResult | SegmentInfo[])[] = [];
  let intake: Intake = { counts: noCounts(), rejections: new Map() };
  const calibrated = withCalibration(input, calibration);
  for (const [partition, list] of [...partitions.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const accumulator = await accumulate(list, deps);
    const usage = accumulator.usage();
    const capacity = accumulator.capacity();
    for (const record of [...usage, ...capacity]) {
      const seen = home.get(record.pod);
      if (seen !== undefined && seen !== partition) return undefined;
      home.set(record.pod, partition);
      const id = hash(record.eventId);
      const idSeen = idHome.get(id);
      if (idSeen !== undefined && idSeen !== partition) return undefined;
      idHome.set(id, partition);
    }
    intake = mergeIntake(intake, accumulator.intake());
    if (calibration !== undefined && usage.some((u) => !calibration.settled(u))) {
      calibration.add(usage);
      results.push(list);
      continue;
    }
    results.push(computeChargeback({ ...calibrated, usage, capacity }));
  }
  calibration?.fit();
  const computed: ChargebackResult[] = [];
  for (const entry of results) {
    if (!Array.isArray(entry)) {
      computed.push(entry);
      continue;
    }
    const accumulator = await accumulate(entry, deps);
    computed.push(
      computeChargeback({ ...calibrated, usage: accumulator.usage(), capacity: accumulator.capacity() }),
    );
  }
  return { result: mergeChargeback(computed), intake };
}

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

async function accumulate(segments: readonly SegmentInfo[], deps: DailyDeps): Promise<EventAccumulator> {
  const accumulator = new EventAccumulator(deps.prices);
  await forEachConcurrently(segments, READ_CONCURRENCY, async (segment: SegmentInfo) => {
    const text = await deps.ledger.readSegment(segment);
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      if (end > start) accumulator.add(parseRecordText(text.slice(start, end), accumulator.intern));
      start = end + 1;
    }
  });
  return accumulator;
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
