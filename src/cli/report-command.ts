import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { EventAccumulator, type ConflictRejection } from '../domain/accumulator.js';
import type { IdlePolicy } from '../domain/chargeback.js';
import { ConfigurationError } from '../domain/errors.js';
import { parseRecordText } from '../domain/fast-parse.js';
import { loadPriceCard, type PriceCard } from '../domain/prices.js';
import { parseDay } from '../domain/timestamp.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../domain/weighting.js';
import { listEventFiles, readLineBatches } from '../io/ndjson.js';
import { buildReport } from '../report/build.js';
import { formatMoney } from '../report/format.js';
import { UsageError } from './usage-error.js';

export const REPORT_HELP = `Usage: chargeback report --events PATH --prices FILE --date YYYY-MM-DD --out DIR [options]

Allocates the fleet's GPU cost of one UTC day to the requests that used it and writes
  DIR/chargeback-DATE.csv     one row per tenant, feature, model and request class, plus idle rows
  DIR/summary-DATE.json       totals, reconciliation (fleet = allocated + idle) and event counts
  DIR/rejected-DATE.ndjson    every rejected line with its file, line number and reason

Options:
  --events PATH       an NDJSON file, or a directory of *.ndjson / *.jsonl files (usage and capacity mixed)
  --prices FILE       the price card (e.g. prices/azure-a100.json)
  --date YYYY-MM-DD   the UTC day to report
  --out DIR           where to write the report (created if missing)
  --idle MODE         separate (default): idle GPU-time in (idle) rows; share: spread over each pod's requests
  --weighting MODE    step-cost (default): calibrated prefill/decode weights; time-share: equal split
  -h, --help          this text

Exit status: 0 when the report is written (rejected lines or not), 2 on bad arguments or unreadable input.`;

export interface ReportOptions {
  readonly eventsPath: string;
  readonly pricesPath: string;
  readonly date: string;
  readonly outDir: string;
  readonly idle: IdlePolicy;
  readonly weighting: Weighting;
}

export function parseReportArgs(args: readonly string[]): ReportOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    events: { type: 'string' },
    prices: { type: 'string' },
    date: { type: 'string' },
    out: { type: 'string' },
    idle: { type: 'string', default: 'separate' },
    weighting: { type: 'string', default: 'step-cost' },
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
  if (weighting !== 'step-cost' && weighting !== 'time-share') {
    throw new UsageError(`--weighting must be step-cost or time-share, got "${weighting}"`);
  }
  return {
    eventsPath: String(values.events),
    pricesPath: String(values.prices),
    date,
    outDir: String(values.out),
    idle,
    weighting: weighting === 'time-share' ? { kind: 'time-share' } : DEFAULT_WEIGHTING,
  };
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }>;

/** node:util parseArgs in strict mode, its errors turned into a one-line UsageError. */
export function parseArgsOrThrow(
  args: readonly string[],
  options: OptionSpec,
): { values: Record<string, string | boolean | undefined> } {
  try {
    const { values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
    return { values };
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

export interface ReportOutcome {
  readonly csvPath: string;
  readonly summaryPath: string;
  readonly rejectedPath: string;
  readonly fleetCost: string;
  readonly allocatedCost: string;
  readonly idleCost: string;
  readonly rejected: number;
  readonly warnings: readonly string[];
}

/** `chargeback report`: reads the events, writes the three files, returns what it wrote. */
export async function runReport(
  options: ReportOptions,
  now: () => Date = () => new Date(),
): Promise<ReportOutcome> {
  const prices = await readPrices(options.pricesPath);
  const day = parseDay(options.date);
  if (day === undefined) throw new UsageError(`bad date ${options.date}`);
  let files: string[];
  try {
    files = await listEventFiles(options.eventsPath);
  } catch (error) {
    throw new UsageError(`cannot read --events ${options.eventsPath}: ${(error as Error).message}`);
  }
  const warnings = files.length === 0 ? [`no *.ndjson or *.jsonl files under ${options.eventsPath}`] : [];
  await mkdir(options.outDir, { recursive: true });
  const rejectedPath = join(options.outDir, `rejected-${options.date}.ndjson`);
  const rejectedOut = createWriteStream(`${rejectedPath}.partial`);
  const accumulator = new EventAccumulator<Position>(prices);
  try {
    for (const file of files) {
      for await (const batch of readLineBatches(file)) {
        for (const line of batch) {
          const reason =
            line.tooLong === undefined
              ? accumulator.add(parseRecordText(line.text, accumulator.intern), { file, line: line.line })
              : accumulator.add({
                  ok: false,
                  reason: `line is ${line.tooLong} characters, over the 1 MiB limit`,
                });
          if (reason !== undefined) {
            const entry = { file, line: line.line, reason, text: line.text.slice(0, 65_536) };
            if (!rejectedOut.write(`${JSON.stringify(entry)}\n`)) await once(rejectedOut, 'drain');
          }
        }
      }
    }
    // Conflicting versions of an eventId are known only at the end; they follow, by eventId.
    for (const entry of await withText(accumulator.conflicts())) {
      if (!rejectedOut.write(`${JSON.stringify(entry)}\n`)) await once(rejectedOut, 'drain');
    }
  } catch (error) {
    rejectedOut.destroy();
    throw new UsageError(`cannot read --events ${options.eventsPath}: ${(error as Error).message}`);
  }
  rejectedOut.end();
  await finished(rejectedOut);

  const summaryPath = join(options.outDir, `summary-${options.date}.json`);
  const report = buildReport({
    date: options.date,
    dayStart: day.start,
    dayEnd: day.end,
    usage: accumulator.usage(),
    capacity: accumulator.capacity(),
    counts: accumulator.counts,
    prices,
    weighting: options.weighting,
    idle: options.idle,
    revision: (await previousRevision(summaryPath)) + 1,
    generatedAt: now().toISOString(),
  });
  const csvPath = join(options.outDir, `chargeback-${options.date}.csv`);
  await writeAtomically(csvPath, report.csv);
  await writeAtomically(summaryPath, report.summary);
  await rename(`${rejectedPath}.partial`, rejectedPath);
  return {
    csvPath,
    summaryPath,
    rejectedPath,
    fleetCost: formatMoney(report.result.fleetNanos),
    allocatedCost: formatMoney(report.result.allocatedNanos),
    idleCost: formatMoney(report.result.idleNanos),
    rejected: accumulator.counts.rejected,
    warnings,
  };
}

interface Position {
  readonly file: string;
  readonly line: number;
}

/** Rejected-file entries for conflicting copies, their text read again (only those lines are kept). */
async function withText(
  conflicts: readonly ConflictRejection<Position>[],
): Promise<{ file: string; line: number; reason: string; text: string }[]> {
  const wanted = new Map<string, Map<number, string>>();
  for (const { where } of conflicts) {
    if (where !== undefined)
      wanted.set(where.file, (wanted.get(where.file) ?? new Map<number, string>()).set(where.line, ''));
  }
  for (const [file, lines] of wanted) {
    for await (const batch of readLineBatches(file)) {
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

async function readPrices(path: string): Promise<PriceCard> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
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

async function writeAtomically(path: string, text: string): Promise<void> {
  await writeFile(`${path}.partial`, text, 'utf8');
  await rename(`${path}.partial`, path);
}
