import { folderSource } from '../adapters/files/report-folder.js';
import { dayPage } from '../usecases/monthly/monthly-report.js';
import { mkdir, open, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EventAccumulator, type ConflictRejection } from '../domain/accumulator.js';
import type { IdlePolicy } from '../domain/chargeback.js';
import { ConfigurationError, PermanentError } from '../domain/errors.js';
import { loadPriceCard, type PriceCard } from '../domain/prices.js';
import { parseDay } from '../domain/days.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../domain/weighting.js';
import {
  isInside,
  listEventFiles,
  readLineBatches,
  readRegularFile,
  type Line,
} from '../adapters/files/ndjson.js';
import { buildReport } from '../domain/report/build.js';
import { nothingBillable } from '../domain/report/nothing-billable.js';
import { DayCalibration, type CalibrationRecord } from '../domain/calibration/calibrate.js';
import { parseMetrics } from '../domain/metrics/build.js';
import { lineResult } from './event-input.js';
import { buildRequestFile } from '../usecases/requests/request-file.js';
import { formatMoney } from '../domain/report/format.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const REPORT_HELP = `Usage: chargeback report --events PATH --prices FILE --date YYYY-MM-DD --out DIR [options]

Allocates the fleet's GPU cost of one UTC day to the requests that used it and writes
  DIR/chargeback-DATE.csv     one row per tenant, feature, model and request class, plus idle rows
  DIR/summary-DATE.json       totals, reconciliation (fleet = allocated + idle) and event counts
  DIR/metrics-DATE.json       per group counts, money and histograms; per model and pod GPU-time
  DIR/rejected-DATE.ndjson    every rejected line with its file, line number and reason

Options:
  --events PATH       an NDJSON file, or a directory of *.ndjson / *.jsonl files (usage and capacity mixed)
  --prices FILE       the price card (e.g. prices/azure-a100.json)
  --date YYYY-MM-DD   the UTC day to report
  --out DIR           where to write the report (created if missing)
  --idle MODE         separate (default): idle GPU-time in (idle) rows; share: spread over each pod's requests
  --weighting MODE    step-cost (default): prefill/decode weights from the configured step costs;
                      calibrated: each deployment's step costs fitted from the day's own requests,
                      the configured ones where the fit is not trusted (the summary says which);
                      time-share: equal split
  --refit             with calibrated: fit again, even if DIR holds this day's fitted constants from
                      an earlier revision (by default those are reused, so a restated day keeps them)
  -h, --help          this text

Exit status: 0 when the report is written (rejected lines or not; input with no events is a $0 day),
1 when the input holds events but nothing billable for the day (all rejected, all of other days, or
every request unmetered): the reason names what was read, and nothing is written;
2 on bad arguments or unreadable input.`;

export interface ReportOptions {
  readonly eventsPath: string;
  readonly pricesPath: string;
  readonly date: string;
  readonly outDir: string;
  readonly idle: IdlePolicy;
  readonly weighting: Weighting;
  /** Fit each deployment's step costs from the day's requests (`--weighting calibrated`). */
  readonly calibrated?: boolean;
  /** Ignore the constants stored with an earlier revision of the day in DIR (`--refit`). */
  readonly refit?: boolean;
}

export function parseReportArgs(args: readonly string[]): ReportOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    events: { type: 'string' },
    prices: { type: 'string' },
    date: { type: 'string' },
    out: { type: 'string' },
    idle: { type: 'string', default: 'separate' },
    weighting: { type: 'string', default: 'step-cost' },
    refit: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const missing = ['events', 'prices', 'date', 'out'].filter((name) => values[name] === undefined);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(', ')}`);
  const date = String(values.date);
  if (parseDay(date) === undefined)
    throw new UsageError(`--date must be a calendar day YYYY-MM-DD, got "${date}"`);
  const idle = String(values.idle);
  if (idle !== 'separate' && idle !== 'share')
    throw new UsageError(`--idle must be separate or share, got "${idle}"`);
  const weighting = String(values.weighting);
  if (weighting !== 'step-cost' && weighting !== 'time-share' && weighting !== 'calibrated') {
    throw new UsageError(`--weighting must be step-cost, calibrated or time-share, got "${weighting}"`);
  }
  if (values.refit === true && weighting !== 'calibrated')
    throw new UsageError('--refit applies to --weighting calibrated only');
  return {
    eventsPath: String(values.events),
    pricesPath: String(values.prices),
    date,
    outDir: String(values.out),
    idle,
    weighting: weighting === 'time-share' ? { kind: 'time-share' } : DEFAULT_WEIGHTING,
    calibrated: weighting === 'calibrated',
    ...(values.refit === true ? { refit: true } : {}),
  };
}

export interface ReportOutcome {
  readonly csvPath: string;
  readonly summaryPath: string;
  readonly metricsPath: string;
  /** The day's per-request costs (and its index beside it, `requests-DATE.index.json`). */
  readonly requestsPath: string;
  readonly rejectedPath: string;
  readonly fleetCost: string;
  readonly allocatedCost: string;
  readonly idleCost: string;
  readonly rejected: number;
  readonly warnings: readonly string[];
}

/** `chargeback report`: reads the events, writes the four files, returns what it wrote. */
export async function runReport(
  options: ReportOptions,
  now: () => Date = () => new Date(),
): Promise<ReportOutcome> {
  const prices = await readPrices(options.pricesPath);
  const day = parseDay(options.date);
  if (day === undefined) throw new UsageError(`bad date ${options.date}`);
  const files = await eventFiles(options);
  const warnings = files.length === 0 ? [`no *.ndjson or *.jsonl files under ${options.eventsPath}`] : [];
  await writing(options.outDir, mkdir(options.outDir, { recursive: true }));
  const rejectedPath = join(options.outDir, `rejected-${options.date}.ndjson`);
  const summaryPath = join(options.outDir, `summary-${options.date}.json`);
  const csvPath = join(options.outDir, `chargeback-${options.date}.csv`);
  const metricsPath = join(options.outDir, `metrics-${options.date}.json`);
  const requestsPath = join(options.outDir, `requests-${options.date}.ndjson.gz`);
  const requestsIndexPath = join(options.outDir, `requests-${options.date}.index.json`);
  const partials = [rejectedPath, summaryPath, csvPath, metricsPath, requestsPath, requestsIndexPath].map(
    (path) => `${path}.partial`,
  );
  let done = false;
  try {
    const rejectedOut = await writing(options.outDir, open(`${rejectedPath}.partial`, 'w'));
    const accumulator = new EventAccumulator<Position>(prices);
    try {
      for (const file of files) {
        for await (const batch of readEvents(options.eventsPath, file)) {
          let rejectedText = '';
          for (const line of batch) {
            const reason = accumulator.add(lineResult(line, accumulator.intern), { file, line: line.line });
            if (reason !== undefined) {
              const entry = { file, line: line.line, reason, text: line.text.slice(0, 65_536) };
              rejectedText += `${JSON.stringify(entry)}\n`;
            }
          }
          if (rejectedText !== '') await writing(options.outDir, rejectedOut.appendFile(rejectedText));
        }
      }
      // Conflicting versions of an eventId are known only at the end; they follow, by eventId.
      const conflicts = await withText(options.eventsPath, accumulator.conflicts());
      const conflictText = conflicts.map((entry) => `${JSON.stringify(entry)}\n`).join('');
      if (conflictText !== '') await writing(options.outDir, rejectedOut.appendFile(conflictText));
    } finally {
      await rejectedOut.close();
    }

    let calibration: DayCalibration | undefined;
    if (options.calibrated === true) {
      const stored =
        options.refit === true ? [] : await storedCalibration(metricsPath, options.date, warnings);
      calibration = new DayCalibration(options.weighting, stored);
      calibration.add(accumulator.usage());
      calibration.fit();
    }
    const report = buildReport({
      ...(calibration === undefined
        ? {}
        : {
            weightingFor: calibration.weightingFor,
            calibration: calibration.records(),
          }),
      date: options.date,
      dayStart: day.start,
      dayEnd: day.end,
      usage: accumulator.usage(),
      capacity: accumulator.capacity(),
      counts: accumulator.counts,
      prices,
      weighting: options.weighting,
      idle: options.idle,
      keepRequests: true,
      revision: (await previousRevision(summaryPath)) + 1,
      generatedAt: now().toISOString(),
    });
    // SPEC 6: input that was not nothing, billed nothing, is a failure (exit 1), and the report of
    // the day already in DIR, if any, is left as it was rather than replaced by a $0 one.
    const empty = nothingBillable(options.date, accumulator.intake(), report.result);
    if (empty !== undefined) throw new PermanentError(empty);
    await writing(options.outDir, writeAtomically(csvPath, report.csv));
    const requests = await buildRequestFile(
      options.date,
      revisionOf(report.summary),
      report.result.requestCosts ?? [],
    );
    await writing(options.outDir, writeAtomically(requestsPath, requests.data));
    await writing(options.outDir, writeAtomically(requestsIndexPath, JSON.stringify(requests.index)));
    // Before the summary, as in Blob: the summary, written last, carries the revision of the set.
    await writing(options.outDir, writeAtomically(metricsPath, report.metrics));
    await writing(options.outDir, writeAtomically(summaryPath, report.summary));
    await writing(options.outDir, rename(`${rejectedPath}.partial`, rejectedPath));
    // The day's page (SPEC 12), from the files just written, with the day before when it is there.
    const pagePath = join(options.outDir, `report-${options.date}.html`);
    await writing(
      options.outDir,
      writeAtomically(pagePath, await dayPage(folderSource(options.outDir), options.date, now())),
    );
    done = true;
    return {
      csvPath,
      summaryPath,
      metricsPath,
      requestsPath,
      rejectedPath,
      fleetCost: formatMoney(report.result.fleetNanos),
      allocatedCost: formatMoney(report.result.allocatedNanos),
      idleCost: formatMoney(report.result.idleNanos),
      rejected: accumulator.counts.rejected,
      warnings,
    };
  } finally {
    // A failed run leaves the previous report as it was and no half-written files beside it.
    if (!done) await Promise.all(partials.map((path) => rm(path, { force: true }).catch(() => undefined)));
  }
}

interface Position {
  readonly file: string;
  readonly line: number;
}

/** Rejected-file entries for conflicting copies, their text read again (only those lines are kept). */
async function withText(
  eventsPath: string,
  conflicts: readonly ConflictRejection<Position>[],
): Promise<{ file: string; line: number; reason: string; text: string }[]> {
  const wanted = new Map<string, Map<number, string>>();
  for (const { where } of conflicts) {
    if (where !== undefined)
      wanted.set(where.file, (wanted.get(where.file) ?? new Map<number, string>()).set(where.line, ''));
  }
  for (const [file, lines] of wanted) {
    for await (const batch of readEvents(eventsPath, file)) {
      for (const line of batch) if (lines.has(line.line)) lines.set(line.line, line.text.slice(0, 65_536));
    }
  }
  return conflicts.map(({ where, reason }) => ({
    file: where?.file ?? '',
    line: where?.line ?? 0,
    reason,
    text: where === undefined ? '' : (wanted.get(where.file)?.get(where.line) ?? ''),
  }));
}

async function eventFiles(options: ReportOptions): Promise<string[]> {
  let events: string;
  let out: string;
  try {
    events = await realpath(options.eventsPath);
    out = await realpathToBe(options.outDir);
  } catch (error) {
    throw new UsageError(`cannot read --events ${options.eventsPath}: ${(error as Error).message}`);
  }
  // The report's rejected-DATE.ndjson is NDJSON: inside the events folder, every later run would
  // read its predecessor's rejected lines as events (and reject them again). Refused rather than
  // skipped, so that nothing under --events is ever left out without a word.
  if (isInside(out, events)) {
    throw new UsageError(
      `--out ${options.outDir} is inside --events ${options.eventsPath}: the report's own files would be read as events on the next run; write the report outside the events folder`,
    );
  }
  try {
    return await listEventFiles(options.eventsPath, out);
  } catch (error) {
    throw new UsageError(`cannot read --events ${options.eventsPath}: ${(error as Error).message}`);
  }
}

async function* readEvents(eventsPath: string, file: string): AsyncGenerator<Line[]> {
  const lines = readLineBatches(file);
  for (;;) {
    let next: IteratorResult<Line[]>;
    try {
      next = await lines.next();
    } catch (error) {
      throw new UsageError(`cannot read --events ${eventsPath}: ${(error as Error).message}`);
    }
    if (next.done === true) return;
    yield next.value;
  }
}

/** The real path `path` will have once created: its nearest existing ancestor resolved, the rest appended. */
async function realpathToBe(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch (error) {
    const parent = dirname(absolute);
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === absolute) throw error;
    return join(await realpathToBe(parent), basename(absolute));
  }
}

/** Awaits a write to the output folder; its failure is a one-line usage error (SPEC 6: exit 2). */
async function writing<T>(outDir: string, operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw new UsageError(`cannot write to --out ${outDir}: ${(error as Error).message}`);
  }
}

async function readPrices(path: string): Promise<PriceCard> {
  let text: string;
  try {
    text = await readRegularFile(path);
  } catch (error) {
    throw new UsageError(`cannot read --prices ${path}: ${(error as Error).message}`);
  }
  try {
    return loadPriceCard(JSON.parse(text));
  } catch (error) {
    const message =
      error instanceof ConfigurationError ? error.message : `not valid JSON: ${(error as Error).message}`;
    throw new UsageError(`--prices ${path}: ${message}`);
  }
}

/**
 * The fitted constants an earlier revision of the day stored in DIR's metrics file. A file that
 * cannot be read is named in a warning and the constants are fitted anew.
 */
async function storedCalibration(
  metricsPath: string,
  date: string,
  warnings: string[],
): Promise<readonly CalibrationRecord[]> {
  let text: string;
  try {
    text = await readFile(metricsPath, 'utf8');
  } catch {
    return [];
  }
  try {
    const metrics = parseMetrics(text);
    return metrics.date === date ? (metrics.calibration ?? []) : [];
  } catch (error) {
    warnings.push(`${metricsPath}: ${(error as Error).message}; the step costs are fitted anew`);
    return [];
  }
}

// SPEC 4.8: a report written again for the same day carries the next revision number.
async function previousRevision(summaryPath: string): Promise<number> {
  try {
    const previous = JSON.parse(await readFile(summaryPath, 'utf8')) as { revision?: unknown };
    return typeof previous.revision === 'number' && Number.isInteger(previous.revision)
      ? previous.revision
      : 0;
  } catch {
    return 0;
  }
}

function revisionOf(summary: string): number {
  return (JSON.parse(summary) as { revision: number }).revision;
}

async function writeAtomically(path: string, text: string | Uint8Array): Promise<void> {
  await writeFile(`${path}.partial`, text);
  await rename(`${path}.partial`, path);
}
