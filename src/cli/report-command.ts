import { mkdir, mkdtemp, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { IdlePolicy } from '../domain/chargeback.js';
import { PermanentError } from '../domain/errors.js';
import { parseDay } from '../domain/days.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../domain/weighting.js';
import { isInside, listEventFiles, readLineBatches, type Line } from '../adapters/files/ndjson.js';
import { FolderReportStore } from '../adapters/files/folder-report-store.js';
import { FolderRunStorage } from '../adapters/files/folder-run-storage.js';
import { LineSpill } from '../adapters/files/line-spill.js';
import { nothingBillable } from '../domain/report/nothing-billable.js';
import { DayCalibration, type CalibrationRecord } from '../domain/calibration/calibrate.js';
import { parseMetrics } from '../domain/metrics/build.js';
import type { ByteSink } from '../ports/byte-sink.js';
import { computeDay, type UnitSpec } from '../usecases/day/compute-day.js';
import { persistDay } from '../usecases/day/finish-day.js';
import type { DaySettings, UnitLine, UnitLines } from '../usecases/day/unit.js';
import { formatMoney } from '../domain/report/format.js';
import { defaultWorkers, rejectedEntry, rejectedRunLines, workerExecutor } from './report-units.js';
import { parseArgsOrThrow } from './args.js';
import { readPricesOption } from './prices-option.js';
import { silentProgress, type Progress } from './progress.js';
import { UsageError } from './usage-error.js';

export const REPORT_HELP = `Usage: chargeback report --events PATH --prices FILE --date YYYY-MM-DD --out DIR [options]

Allocates the fleet's GPU cost of one UTC day to the requests that used it and writes
  DIR/chargeback-DATE.csv         one row per tenant, feature, model and request class, plus idle rows
  DIR/focus-DATE.csv              the same charges in the FinOps FOCUS format (contracts.md §15)
  DIR/summary-DATE.json           totals, reconciliation (fleet = allocated + idle) and event counts
  DIR/metrics-DATE.json           per group counts, money and histograms; per model and pod GPU-time
  DIR/report-DATE.html            the day's page
  DIR/requests-DATE.ndjson.gz     every request's cost
  DIR/requests-DATE.index.json    where to find one request in it ('chargeback explain')
  DIR/rejected-DATE.ndjson        every rejected line with its file, line number and reason
and prints each file's path on stdout, one a line, then the day's totals. On a terminal, stderr
shows the stage under way; piped, it shows nothing but warnings.

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
  --unit-mb N         input per unit of work (default 64): larger input is cut by pod into units of
                      about N MB on local disk, computed one at a time, so memory stays about the
                      same whatever the size of the day
  --workers N         worker threads computing those units at once (default: one per core; 0: none)
  --memory-mb N       memory for the worker threads' heaps together (default 1024): fewer threads
                      when the units are large (a unit is at least one whole pod)
  --timings           print each stage's wall time on stderr
  --work-dir DIR      where those units are kept while the report is made (default: the system's
                      temporary folder; removed at the end)
  -h, --help          this text

Exit status:
  0  the report is written (rejected lines or not; input with no events is a $0 day)
  1  the input holds events but nothing billable for the day (all rejected, all of other days, or
     every request unmetered): the reason names what was read, and nothing is written; or the run
     failed for another reason, named on stderr
  2  bad arguments, unreadable input, or an --out that cannot be written`;

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
  /** Input per unit of work, in MB (`--unit-mb`): bounds the memory, whatever the size of the day. */
  readonly unitMb?: number;
  /** Where the units and their runs are kept while the report is made (default: the system's temporary folder). */
  readonly workDir?: string;
  /** What the threads' heaps may take together, in MB (`--memory-mb`): fewer threads for larger units. */
  readonly memoryMb?: number;
  /** Print each stage's wall time on stderr (`--timings`). */
  readonly timings?: boolean;
  /** Worker threads computing units (`--workers`; default one per core, 0: the main thread alone). */
  readonly workers?: number;
  /** Where the stage under way is shown (a terminal's stderr; silent by default). */
  readonly progress?: Progress;
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
    'unit-mb': { type: 'string' },
    'work-dir': { type: 'string' },
    workers: { type: 'string' },
    timings: { type: 'boolean' },
    'memory-mb': { type: 'string' },
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
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 0 || workers > 64))
    throw new UsageError(`--workers must be a whole number from 0 to 64, got "${String(values.workers)}"`);
  const memoryMb = values['memory-mb'] === undefined ? undefined : Number(values['memory-mb']);
  if (memoryMb !== undefined && (!Number.isInteger(memoryMb) || memoryMb < 256))
    throw new UsageError(
      `--memory-mb must be a whole number of MB, at least 256, got "${String(values['memory-mb'])}"`,
    );
  const unitMb = values['unit-mb'] === undefined ? DEFAULT_UNIT_MB : Number(values['unit-mb']);
  if (!Number.isFinite(unitMb) || unitMb <= 0 || unitMb > 65_536)
    throw new UsageError(
      `--unit-mb must be a number of MB above 0 and at most 65536, got "${String(values['unit-mb'])}"`,
    );
  return {
    eventsPath: String(values.events),
    pricesPath: String(values.prices),
    date,
    outDir: String(values.out),
    idle,
    weighting: weighting === 'time-share' ? { kind: 'time-share' } : DEFAULT_WEIGHTING,
    calibrated: weighting === 'calibrated',
    ...(values.refit === true ? { refit: true } : {}),
    unitMb,
    ...(values['work-dir'] === undefined ? {} : { workDir: String(values['work-dir']) }),
    ...(workers === undefined ? {} : { workers }),
    ...(values.timings === true ? { timings: true } : {}),
    ...(memoryMb === undefined ? {} : { memoryMb }),
  };
}

export interface ReportOutcome {
  readonly csvPath: string;
  readonly summaryPath: string;
  readonly metricsPath: string;
  /** The day's per-request costs (and its index beside it, `requests-DATE.index.json`). */
  readonly requestsPath: string;
  readonly rejectedPath: string;
  /** Every file the report wrote, in the order `chargeback report` names them on stdout. */
  readonly files: readonly WrittenFile[];
  readonly fleetCost: string;
  readonly allocatedCost: string;
  readonly idleCost: string;
  readonly rejected: number;
  readonly warnings: readonly string[];
}

/** A file the report wrote, and what it holds (the help's list). */
export interface WrittenFile {
  readonly path: string;
  readonly what: string;
}

/**
 * The files of a day's report in DIR, as the help lists them. The day's revision bookkeeping
 * (info-DATE.json) is the folder store's own and is not listed. A further output is one more
 * entry here and in the help.
 */
export function reportFiles(outDir: string, date: string): WrittenFile[] {
  const at = (name: string): string => join(outDir, name);
  return [
    { path: at(`chargeback-${date}.csv`), what: 'chargeback CSV' },
    { path: at(`focus-${date}.csv`), what: 'FOCUS export' },
    { path: at(`summary-${date}.json`), what: 'summary' },
    { path: at(`metrics-${date}.json`), what: 'daily metrics' },
    { path: at(`report-${date}.html`), what: 'day page' },
    { path: at(`requests-${date}.ndjson.gz`), what: 'per-request costs' },
    { path: at(`requests-${date}.index.json`), what: 'per-request index' },
    { path: at(`rejected-${date}.ndjson`), what: 'rejected lines' },
  ];
}

/** Input per unit of work by default: about 110,000 events of the simulator's size (see --unit-mb). */
export const DEFAULT_UNIT_MB = 64;

/** The memory the main thread and the worker threads' heaps may take together (--memory-mb). */
export const DEFAULT_MEMORY_MB = 1024;

/** What the main thread holds while the units are computed (the day's small results, the hashes). */
const MAIN_THREAD_MB = 192;

/**
 * `chargeback report`: the daily run's stages (src/usecases/day/) over the input files. The input
 * is cut by pod into units of about `unitMb` each on local disk (one unit, read straight from the
 * files, when it is smaller), the units computed one at a time, and the report written through the
 * folder's report store, summary last. Memory is one unit's events and the day's small results,
 * whatever the size of the day.
 */
export async function runReport(
  options: ReportOptions,
  now: () => Date = () => new Date(),
): Promise<ReportOutcome> {
  const prices = await readPricesOption(options.pricesPath);
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
  const work = await mkdtemp(join(options.workDir ?? tmpdir(), 'chargeback-report-'));
  const storage = new FolderRunStorage(join(work, 'runs'));
  const settings: DaySettings = {
    date: options.date,
    dayStart: day.start,
    dayEnd: day.end,
    prices,
    weighting: options.weighting,
    idle: options.idle,
  };
  const sinks = new Map<string, ByteSink>();
  let pool: ReturnType<typeof workerExecutor> | undefined;
  let done = false;
  const progress = options.progress ?? silentProgress;
  let ticker: ReturnType<typeof setInterval> | undefined;
  try {
    const stage = stageClock(options.timings);
    const workers = options.workers ?? defaultWorkers();
    const units = await cutIntoUnits(options, files, work, workers, progress);
    stage(`cut ${units.length} unit(s)`);
    const calibration =
      options.calibrated === true
        ? new DayCalibration(
            options.weighting,
            options.refit === true ? [] : await storedCalibration(metricsPath, options.date, warnings),
          )
        : undefined;
    const rejectedRun = (unit: string): string => `rejected-${unit}`;
    const heapMb = workerHeapMb(Math.max(0, ...units.map((u) => u.lineCount ?? 0)));
    // As many threads as the memory setting holds, each with a heap for the largest unit.
    const threads = Math.min(
      workers,
      Math.max(1, Math.floor(((options.memoryMb ?? DEFAULT_MEMORY_MB) - MAIN_THREAD_MB) / heapMb)),
    );
    if (workers > 0 && units.some((u) => u.spills !== undefined)) {
      const { prices: _, ...rest } = settings;
      pool = workerExecutor(
        threads,
        { kind: 'init', pricesPath: options.pricesPath, settings: rest, files, runsDir: join(work, 'runs') },
        rejectedRun,
        heapMb,
        (m) => warnings.push(m),
      );
    }
    const started = performance.now();
    let finished = 0;
    const computing = (): void => {
      progress.step(
        `computing ${units.length} unit(s)${pool === undefined ? '' : ` on ${threads} thread(s), ${finished} run(s) finished`}: ` +
          `${Math.round((performance.now() - started) / 1000)} s`,
      );
    };
    computing();
    ticker = setInterval(computing, 1000);
    ticker.unref();
    const threaded = pool?.executor;
    const computed = await computeDay(units, {
      ...(threaded === undefined
        ? {}
        : {
            executor: {
              concurrency: threaded.concurrency,
              run: async (...args: Parameters<typeof threaded.run>) => {
                const outcome = await threaded.run(...args);
                finished += 1;
                return outcome;
              },
            },
          }),
      settings,
      storage,
      ...(calibration === undefined ? {} : { calibration }),
      hooks: (unit) => {
        const sink = storage.create(rejectedRun(unit));
        sinks.set(unit, sink);
        return {
          onRejected: (lines) => sink.write(rejectedRunLines(files, lines)),
        };
      },
      discard: async (unit) => {
        await sinks.get(unit)?.close();
        sinks.delete(unit);
        await storage.remove(rejectedRun(unit));
      },
    });
    clearInterval(ticker);
    for (const sink of sinks.values()) await sink.close();
    stage(`computed ${computed.units.length} unit(s)`);
    progress.step('writing the report');
    // contracts.md §6: input that was not nothing, billed nothing, is a failure (exit 1), and the report of
    // the day already in DIR, if any, is left as it was rather than replaced by a $0 one.
    const empty = nothingBillable(options.date, computed.intake, computed.chargeback);
    if (empty !== undefined) throw new PermanentError(empty);
    await writeRejected(
      options.outDir,
      `${rejectedPath}.partial`,
      computed.units.map((unit) => storage.read(rejectedRun(unit))),
      computed.conflicts.map((c) => rejectedEntry(files, c)),
    );
    stage('rejected lines written');
    const reports = new FolderReportStore(options.outDir);
    const revision = (await previousRevision(summaryPath)) + 1;
    const report = await writing(
      options.outDir,
      persistDay(
        reports,
        {
          settings,
          ...(calibration === undefined ? {} : { calibration: calibration.records() }),
          counts: computed.intake.counts,
          revision,
          generatedAt: now().toISOString(),
          chargeback: computed.chargeback,
          runs: computed.runs,
          storage,
        },
        { revision, ledgerAsOf: now().toISOString() },
        now(),
      ),
    );
    await writing(options.outDir, rename(`${rejectedPath}.partial`, rejectedPath));
    stage('report written');
    done = true;
    return {
      csvPath,
      summaryPath,
      metricsPath,
      requestsPath,
      rejectedPath,
      files: reportFiles(options.outDir, options.date),
      fleetCost: formatMoney(report.result.fleetNanos),
      allocatedCost: formatMoney(report.result.allocatedNanos),
      idleCost: formatMoney(report.result.idleNanos),
      rejected: computed.intake.counts.rejected,
      warnings,
    };
  } finally {
    clearInterval(ticker);
    progress.done();
    await pool?.close();
    for (const sink of sinks.values()) await sink.abort().catch(() => undefined);
    // A failed run leaves the previous report as it was and no half-written files beside it.
    if (!done) await rm(`${rejectedPath}.partial`, { force: true }).catch(() => undefined);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * A worker thread's heap limit for a unit of `events` lines: a unit's events, its allocation and
 * its requests' costs took at most 810 bytes an event of heap (measured 2026-12-07: 190 MB for a
 * pod of 234,395 events), so 1,200 bytes an event leaves room, plus the thread's own code and
 * buffers. A unit over it (one pod larger than a unit) is computed on the main thread, whose heap
 * has no such limit.
 */
export function workerHeapMb(events: number): number {
  return Math.max(192, Math.ceil((events * HEAP_BYTES_PER_EVENT) / 1_000_000) + 96);
}

const HEAP_BYTES_PER_EVENT = 1_200;

/** With --timings: each stage's wall time on stderr, as `stage: SECONDS s (what)`. */
function stageClock(on: boolean | undefined): (what: string) => void {
  let last = performance.now();
  return (what) => {
    if (on !== true) return;
    const now = performance.now();
    process.stderr.write(`stage: ${((now - last) / 1000).toFixed(2)} s (${what})\n`);
    last = now;
  };
}

/**
 * The input as units of whole pods: one, read straight from the files, when it is at most
 * `unitMb`; else cut by pod into buckets of about that size on local disk (line-spill.ts).
 */
async function cutIntoUnits(
  options: ReportOptions,
  files: readonly string[],
  work: string,
  workers: number,
  progress: Progress,
): Promise<UnitSpec[]> {
  let bytes = 0;
  for (const file of files) bytes += (await stat(file)).size;
  const bySize = Math.ceil(bytes / ((options.unitMb ?? DEFAULT_UNIT_MB) * 1_000_000));
  // Cut at all, then into a few units per worker thread at least, so that no thread waits long
  // for the last unit (pods are whole units, so buckets differ in size).
  const count = bySize <= 1 ? 1 : Math.max(bySize, 4 * workers);
  let read = 0;
  const fromFiles: UnitLines = async function* () {
    for (const [index, file] of files.entries()) {
      for await (const batch of readEvents(options.eventsPath, file)) {
        read += batch.length;
        progress.step(
          `reading events: ${read.toLocaleString('en-US')} line(s), file ${index + 1} of ${files.length}`,
        );
        yield batch.map((line) => unitLine(index, line));
      }
    }
  };
  if (count === 1) return [{ id: '0000', lines: fromFiles }];
  const spill = new LineSpill(join(work, 'spill'), count);
  for await (const batch of fromFiles()) {
    for (const line of batch) spill.add(line);
    await writing(options.outDir, spill.flush());
  }
  return (await spill.finish()).map((bucket) => ({
    id: String(bucket.index).padStart(4, '0'),
    lines: bucket.read,
    spills: [bucket.path],
    bytes: bucket.bytes,
    lineCount: bucket.lines,
  }));
}

function unitLine(file: number, line: Line): UnitLine {
  return {
    text: line.text,
    where: { file, line: line.line },
    ...(line.tooLong === undefined ? {} : { tooLong: line.tooLong }),
    ...(line.invalidUtf8 === undefined ? {} : { invalidUtf8: line.invalidUtf8 }),
  };
}

/**
 * The rejected file: every unit's refused lines (each unit's in the order read) merged back into
 * file order, then the conflicting copies by eventId, as one pass over the input would list them.
 */
async function writeRejected(
  outDir: string,
  path: string,
  runs: readonly AsyncIterable<Uint8Array>[],
  conflicts: readonly { file: string; line: number; reason: string; text: string }[],
): Promise<void> {
  const out = await writing(outDir, open(path, 'w'));
  try {
    const readers = runs.map((run) => linesOf(run)[Symbol.asyncIterator]());
    const heads: ({ order: [number, number]; text: string } | undefined)[] = [];
    const advance = async (k: number): Promise<void> => {
      const next = await readers[k]?.next();
      heads[k] = next === undefined || next.done === true ? undefined : placed(next.value);
    };
    for (let k = 0; k < readers.length; k++) await advance(k);
    let pending = '';
    for (;;) {
      let best = -1;
      for (let k = 0; k < heads.length; k++) {
        const head = heads[k];
        const current = best < 0 ? undefined : heads[best];
        if (head !== undefined && (current === undefined || before(head.order, current.order))) best = k;
      }
      if (best < 0) break;
      pending += `${heads[best]?.text ?? ''}\n`;
      if (pending.length > 1 << 20) {
        await writing(outDir, out.appendFile(pending));
        pending = '';
      }
      await advance(best);
    }
    for (const entry of conflicts) pending += `${JSON.stringify(entry)}\n`;
    if (pending !== '') await writing(outDir, out.appendFile(pending));
  } finally {
    await out.close();
  }
}

/** A run's line: file index, line number, then the entry as written. */
function placed(text: string): { order: [number, number]; text: string } {
  const tab = text.indexOf('\t');
  const tab2 = text.indexOf('\t', tab + 1);
  return {
    order: [Number(text.slice(0, tab)), Number(text.slice(tab + 1, tab2))],
    text: text.slice(tab2 + 1),
  };
}

function before(a: [number, number], b: [number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** The lines of a stream of UTF-8 bytes. */
async function* linesOf(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  let carry = '';
  const decoder = new TextDecoder();
  for await (const chunk of chunks) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const parts = text.split('\n');
    carry = parts.pop() ?? '';
    for (const part of parts) if (part !== '') yield part;
  }
  carry += decoder.decode();
  if (carry !== '') yield carry;
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

/** Awaits a write to the output folder; its failure is a one-line usage error (contracts.md §6: exit 2). */
async function writing<T>(outDir: string, operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw new UsageError(`cannot write to --out ${outDir}: ${(error as Error).message}`);
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

// contracts.md §4.8: a report written again for the same day carries the next revision number.
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
