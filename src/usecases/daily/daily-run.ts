import { createHash } from 'node:crypto';
import { mergeIntake, noCounts, type Intake } from '../../domain/accumulator.js';
import { computeChargeback, type ChargebackResult, type IdlePolicy } from '../../domain/chargeback.js';
import type { PriceCard } from '../../domain/prices.js';
import { mergeChargeback } from '../../domain/merge-chargeback.js';
import { addDays, dayOfMs, parseDay, previousDay } from '../../domain/days.js';
import type { Weighting } from '../../domain/weighting.js';
import { retrainingRecords, type RetrainingRun } from '../../domain/retrain/charge.js';
import type { DirtyDay, Ledger, SegmentInfo } from '../../ports/ledger.js';
import type { Report } from '../../domain/report/build.js';
import { formatMoney } from '../../domain/report/format.js';
import { nothingBillable } from '../../domain/report/nothing-billable.js';
import type { ReportStore, StoredReportInfo } from '../../ports/report-store.js';
import type { RunInfo, RunStorage } from '../../ports/byte-sink.js';
import { DayCalibration, type CalibrationRecord } from '../../domain/calibration/calibrate.js';
import { parseMetrics } from '../../domain/metrics/build.js';
import type { BudgetScopeMetrics } from '../../domain/metrics/metrics.js';
import { computeDay, type UnitSpec } from '../day/compute-day.js';
import { persistDay, renderDay } from '../day/finish-day.js';
import type { DaySettings } from '../day/unit.js';
import type { RunSpace, UnitLine, UnitLines } from '../../ports/unit-lines.js';

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
  /** Events per unit of work before a partition is cut by pod on local disk (DAY_UNIT_EVENTS). */
  readonly unitEvents?: number;
  /** Where the day's runs are kept while it is computed (default: in memory, no unit cut by pod). */
  readonly runSpace?: () => Promise<RunSpace>;
  /**
   * Called with the day's exact costs before its files are stored, every time the day is computed
   * (a restated day again): budgets put them in place of the day's estimate and give each scope's
   * estimate error, which goes into the day's metrics file (usecases/budgets/close-day.ts).
   */
  readonly closeBudgetDay?: (
    day: string,
    costs: ChargebackResult['rows'],
  ) => Promise<readonly BudgetScopeMetrics[]>;
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
   * Set when the day had input and nothing billable (contracts.md §6, src/domain/report/nothing-billable.ts):
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
 * Builds one day's report from the ledger, in named stages (src/usecases/day/):
 *
 *   plan     the day's segments, dead letters and settings, and their fingerprint: when it is the
 *            one the stored report was made from, the day is unchanged and nothing is read;
 *   compute  the units (one per Event Hubs partition: the partition key is the pod, so a pod's
 *            events are in one; a partition over `unitEvents` is cut by pod on local disk), read,
 *            checked, fitted and allocated one at a time, each unit's requests' costs written out
 *            as a sorted run (compute-day.ts);
 *   persist  the merged report stored as the next revision, the runs merged into the day's
 *            per-request file as it is written, the day's page drawn from what the run holds.
 *
 * A day whose inputs changed but whose CSV and summary come out byte for byte as stored keeps its
 * revision (see sameAsStored): late copies of events already counted change nothing.
 */
export async function reportDay(
  day: string,
  deps: DailyDeps,
  log: (m: string) => void = () => undefined,
): Promise<DayOutcome> {
  const plan = await planDay(day, deps, log);
  const kept = await keptDay(plan, deps);
  if (kept !== undefined) return kept;
  const space = await (deps.runSpace ?? memoryRunSpace)();
  try {
    const calibration =
      plan.storedCalibration === undefined
        ? undefined
        : new DayCalibration(deps.weighting, plan.storedCalibration);
    const computed = await computeDay(await unitsOf(plan, space, deps), {
      settings: settingsOf(plan.day, deps),
      storage: space.storage,
      ...(calibration === undefined ? {} : { calibration }),
      log,
    });
    return await finishDay(
      plan,
      { ...computed, calibration: calibration?.records() },
      space.storage,
      deps,
      deps.now(),
    );
  } finally {
    await space.release();
  }
}

/**
 * The unchanged day's outcome, its stored report's info moved on, when the stored report was made
 * from this plan's inputs; undefined when the day must be computed.
 */
export async function keptDay(plan: DayPlan, deps: DailyDeps): Promise<DayOutcome | undefined> {
  const kept = deps.refit === true ? undefined : await unchangedReport(plan, deps);
  if (plan.previous === undefined || kept === undefined) return undefined;
  // The same ledger state and settings give the same bytes: keep the revision and its generation
  // time, and only move ledgerAsOf on, so the day is not chosen again for these commits.
  await deps.reports.keep(plan.day, { ...plan.previous, ledgerAsOf: plan.ledgerAsOf });
  return unchangedOutcome(plan.day, plan.previous.revision, kept);
}

/** What the units of a day give the last stage: merged, exact, with the runs of requests' costs. */
export interface DayParts {
  readonly chargeback: ChargebackResult;
  readonly intake: Intake;
  readonly runs: readonly RunInfo[];
  readonly calibration: readonly CalibrationRecord[] | undefined;
}

/**
 * The last stage: dead letters counted, retraining added, the budgets' estimate of the day
 * replaced by its exact costs (their error goes into the metrics), the report persisted as the
 * next revision (or as the stored one, when it comes out byte for byte the same). Safe to run
 * again for the same plan and parts: it writes the same bytes and puts the same exact figures.
 */
export async function finishDay(
  plan: DayPlan,
  parts: DayParts,
  storage: RunStorage,
  deps: DailyDeps,
  generated: Date,
): Promise<DayOutcome> {
  const day = plan.day;
  const settings = settingsOf(day, deps);
  // Messages rejected at ingestion count as read and rejected on the day they were enqueued.
  const intake = mergeIntake(parts.intake, {
    counts: { ...noCounts(), eventsRead: plan.deadLetters, rejected: plan.deadLetters },
    // Each dead letter keeps its own reason in the ledger (docs/operations.md, "Dead letters pile
    // up"); the daily run counts them only.
    rejections: new Map(
      plan.deadLetters > 0
        ? [[`rejected at ingestion (reasons in the ledger's deadletter/${day}/)`, plan.deadLetters]]
        : [],
    ),
  });
  const counts = intake.counts;
  // Judged on the events alone: a retraining job's cost that day is not input read (see withRetraining).
  const empty = nothingBillable(day, intake, parts.chargeback);
  const chargeback = await withRetraining(parts.chargeback, deps, settings);
  const base = {
    settings,
    counts,
    chargeback,
    ...(parts.calibration === undefined ? {} : { calibration: parts.calibration }),
  };
  const previous = plan.previous;
  const same = previous === undefined ? undefined : await sameAsStored(day, deps, base);
  const revision = same?.revision ?? (previous?.revision ?? 0) + 1;
  const generatedAt = same?.generatedAt ?? generated.toISOString();
  // Before the files: the estimate error is part of the day's metrics, which drift reads. The
  // exact figures are put whole, so a run that fails after this and runs again puts the same.
  const budgets = await deps.closeBudgetDay?.(day, chargeback.rows);
  const report = await persistDay(
    deps.reports,
    {
      ...base,
      ...(budgets === undefined ? {} : { budgets }),
      revision,
      generatedAt,
      runs: parts.runs,
      storage,
    },
    {
      revision,
      ledgerAsOf: plan.ledgerAsOf,
      inputs: withPrices(
        plan.fingerprint,
        deps.prices,
        chargeback.podTotals.map((p) => p.gpuSku),
      ),
    },
    generated,
  );
  return outcome(day, report.result, {
    revision,
    restated: previous !== undefined,
    unchanged: same !== undefined,
    events: counts.eventsRead,
    ...(empty === undefined ? {} : { nothingBillable: empty }),
  });
}

/**
 * The default space for a day's runs when none is given: in memory, and no unit is cut (the
 * Functions and the command line give one on local disk, src/adapters/files/temp-run-space.ts).
 */
async function memoryRunSpace(): Promise<RunSpace> {
  const runs = new Map<string, Uint8Array[]>();
  const storage: RunStorage = {
    create(name) {
      const chunks: Uint8Array[] = [];
      return {
        write: (chunk) => {
          chunks.push(chunk);
          return Promise.resolve();
        },
        close: () => {
          runs.set(name, chunks);
          return Promise.resolve();
        },
        abort: () => Promise.resolve(),
      };
    },
    read(name) {
      const chunks = runs.get(name);
      if (chunks === undefined) throw new Error(`no run ${name}`);
      return fromChunks(chunks);
    },
    remove(name) {
      runs.delete(name);
      return Promise.resolve();
    },
  };
  const release = (): Promise<void> => {
    runs.clear();
    return Promise.resolve();
  };
  return Promise.resolve({ storage, release });
}

async function* fromChunks(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield await Promise.resolve(chunk);
}

/** Events per unit before a partition is cut by pod (DAY_UNIT_EVENTS). */
export const DEFAULT_UNIT_EVENTS = 400_000;

/**
 * What a day's run is planned from, as plain data (it travels in the fan-out's plan): the day's
 * segments by partition, its dead letters, the stored report's info, and their fingerprint.
 */
export interface DayPlan {
  readonly day: string;
  readonly ledgerAsOf: string;
  readonly previous: StoredReportInfo | undefined;
  readonly deadLetters: number;
  readonly fingerprint: string;
  /** With a calibrated weighting: the constants stored with the day ([] to fit them all). */
  readonly storedCalibration: readonly CalibrationRecord[] | undefined;
  /** The day's segments by partition, partitions in order. */
  readonly partitions: readonly (readonly [string, readonly SegmentInfo[]])[];
}

export function settingsOf(day: string, deps: Pick<DailyDeps, 'prices' | 'weighting' | 'idle'>): DaySettings {
  const bounds = parseDay(day);
  if (bounds === undefined) throw new RangeError(`not a day: ${day}`);
  return {
    date: day,
    dayStart: bounds.start,
    dayEnd: bounds.end,
    prices: deps.prices,
    weighting: deps.weighting,
    idle: deps.idle,
  };
}

/** The plan stage: reads the ledger's index of the day (not its events) and the stored report's info. */
export async function planDay(day: string, deps: DailyDeps, log: (m: string) => void): Promise<DayPlan> {
  settingsOf(day, deps);
  const ledgerAsOf = deps.now().toISOString();
  const [segments, deadLetters, previous, retraining] = await Promise.all([
    deps.ledger.segmentsFor(day),
    deps.ledger.deadLettersOn(day),
    deps.reports.info(day),
    deps.retrainingRuns?.() ?? Promise.resolve([] as readonly RetrainingRun[]),
  ]);
  const stored =
    deps.calibrated !== true ? undefined : deps.refit === true ? [] : await storedCalibration(day, deps, log);
  const fingerprint = dayFingerprint({
    day,
    segments,
    deadLetters,
    weighting: deps.weighting,
    idle: deps.idle,
    calibrated: deps.calibrated === true,
    retraining,
  });
  const partitions = new Map<string, SegmentInfo[]>();
  for (const segment of segments)
    partitions.set(segment.partition, [...(partitions.get(segment.partition) ?? []), segment]);
  return {
    day,
    ledgerAsOf,
    previous,
    deadLetters,
    fingerprint,
    storedCalibration: stored,
    partitions: [...partitions.entries()].sort((a, b) => compare(a[0], b[0])),
  };
}

/** The day's units: one per partition, a partition over `unitEvents` cut by pod on local disk. */
export async function unitsOf(
  plan: Pick<DayPlan, 'partitions'>,
  space: RunSpace,
  deps: Pick<DailyDeps, 'ledger' | 'unitEvents'>,
): Promise<UnitSpec[]> {
  const unitEvents = deps.unitEvents ?? DEFAULT_UNIT_EVENTS;
  const units: UnitSpec[] = [];
  for (const [partition, list] of plan.partitions) {
    const lines = segmentLines(deps.ledger, list);
    const events = list.reduce((n, s) => n + s.events, 0);
    if (events <= unitEvents || space.cutByPod === undefined) {
      units.push({ id: partition, lines });
      continue;
    }
    const buckets = await space.cutByPod(partition, lines, Math.ceil(events / unitEvents));
    for (const bucket of buckets)
      units.push({ id: `${partition}.${String(bucket.index).padStart(4, '0')}`, lines: bucket.read });
  }
  return units;
}

/** A partition's segments as lines, read a few segments at a time. */
function segmentLines(ledger: DailyDeps['ledger'], segments: readonly SegmentInfo[]): UnitLines {
  return async function* () {
    for (let at = 0; at < segments.length; at += READ_CONCURRENCY) {
      const texts = await Promise.all(
        segments.slice(at, at + READ_CONCURRENCY).map((segment) => ledger.readSegment(segment)),
      );
      for (const text of texts) {
        const lines: UnitLine[] = [];
        let start = 0;
        for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
          if (end > start) lines.push({ text: text.slice(start, end) });
          start = end + 1;
        }
        if (start < text.length) lines.push({ text: text.slice(start) });
        yield lines;
      }
    }
  };
}

/** Changes when anything the day's report is made from changes. */
export const REPORT_FORMAT = 'report-format-2026-12-06';

function dayFingerprint(inputs: {
  day: string;
  segments: readonly SegmentInfo[];
  deadLetters: number;
  weighting: Weighting;
  idle: IdlePolicy;
  calibrated: boolean;
  retraining: readonly RetrainingRun[];
}): string {
  const hash = createHash('sha256');
  hash.update(REPORT_FORMAT);
  hash.update(
    JSON.stringify([
      inputs.day,
      inputs.deadLetters,
      inputs.weighting,
      inputs.idle,
      inputs.calibrated,
      inputs.retraining,
    ]),
  );
  const segments = [...inputs.segments].sort((a, b) => compare(a.blob, b.blob));
  for (const s of segments)
    hash.update(
      JSON.stringify([s.blob, s.partition, s.firstSequence, s.lastSequence, s.events, s.committedAt]),
    );
  return hash.digest('hex');
}

/**
 * The stored summary, when the stored report was made from exactly these inputs and is whole (its
 * metrics and per-request files are there): the day need not be read. The prices are those of the
 * VM sizes the stored report billed, which are the day's when its segments are the same. A day
 * that billed nothing from some input is computed again, so that it says so again (contracts.md §6).
 */
async function unchangedReport(plan: DayPlan, deps: DailyDeps): Promise<string | undefined> {
  const day = plan.day;
  if (plan.previous?.inputs === undefined) return undefined;
  const [summary, metrics, requests] = await Promise.all([
    deps.reports.summary(day),
    deps.reports.metrics(day),
    deps.reports.requests(day).catch(() => undefined),
  ]);
  if (summary === undefined || metrics === undefined || requests === undefined) return undefined;
  let skus: string[];
  let billed: { fleetCostUsd?: unknown; eventsRead?: unknown };
  try {
    skus = parseMetrics(metrics).pods.flatMap((p) => (p.gpuSku === undefined ? [] : [p.gpuSku]));
    billed = JSON.parse(summary) as typeof billed;
  } catch {
    return undefined;
  }
  if (billed.fleetCostUsd === 0 && billed.eventsRead !== 0) return undefined;
  return withPrices(plan.fingerprint, deps.prices, skus) === plan.previous.inputs ? summary : undefined;
}

/** The fingerprint with the price periods of the VM sizes billed. */
function withPrices(fingerprint: string, prices: PriceCard, skus: readonly string[]): string {
  const hash = createHash('sha256').update(fingerprint);
  for (const sku of [...new Set(skus)].sort())
    hash.update(JSON.stringify([sku, prices.periods(sku) ?? null]));
  return hash.digest('hex');
}

function unchangedOutcome(day: string, revision: number, summary: string | undefined): DayOutcome {
  let totals: {
    fleetCostUsd?: unknown;
    allocatedCostUsd?: unknown;
    idleCostUsd?: unknown;
    eventsRead?: unknown;
  } = {};
  try {
    totals = JSON.parse(summary ?? '{}') as typeof totals;
  } catch {
    // the figures are for the log only
  }
  const money = (v: unknown): string => (typeof v === 'number' ? v.toFixed(6) : '?');
  return {
    day,
    revision,
    restated: true,
    unchanged: true,
    events: typeof totals.eventsRead === 'number' ? totals.eventsRead : 0,
    fleetCost: money(totals.fleetCostUsd),
    allocatedCost: money(totals.allocatedCostUsd),
    idleCost: money(totals.idleCostUsd),
  };
}

function outcome(
  day: string,
  result: Report['result'],
  facts: Pick<DayOutcome, 'revision' | 'restated' | 'unchanged' | 'events' | 'nothingBillable'>,
): DayOutcome {
  return {
    day,
    ...facts,
    fleetCost: formatMoney(result.fleetNanos),
    allocatedCost: formatMoney(result.allocatedNanos),
    idleCost: formatMoney(result.idleNanos),
  };
}

/**
 * The stored revision and generation time, when rendering the day again with them gives exactly
 * the stored CSV and summary; undefined when anything differs (or the stored summary is unreadable).
 */
async function sameAsStored(
  day: string,
  deps: DailyDeps,
  input: Omit<Parameters<typeof renderDay>[0], 'revision' | 'generatedAt'>,
): Promise<{ revision: number; generatedAt: string } | undefined> {
  const [csv, summary] = await Promise.all([deps.reports.csv(day), deps.reports.summary(day)]);
  if (csv === undefined || summary === undefined) return undefined;
  let stored: { revision?: unknown; generatedAt?: unknown };
  try {
    stored = JSON.parse(summary) as typeof stored;
  } catch {
    return undefined;
  }
  if (typeof stored.revision !== 'number' || typeof stored.generatedAt !== 'string') return undefined;
  const again = renderDay({ ...input, revision: stored.revision, generatedAt: stored.generatedAt });
  return again.csv === csv && again.summary === summary
    ? { revision: stored.revision, generatedAt: stored.generatedAt }
    : undefined;
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
  settings: DaySettings,
): Promise<ChargebackResult> {
  if (deps.retrainingRuns === undefined) return serving;
  const { usage, capacity } = retrainingRecords(
    await deps.retrainingRuns(),
    settings.dayStart,
    settings.dayEnd,
  );
  if (usage.length === 0) return serving;
  return mergeChargeback([serving, computeChargeback({ ...settings, usage, capacity })]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
