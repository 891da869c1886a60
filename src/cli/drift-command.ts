import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDay } from '../domain/days.js';
import { driftMessages, type TeamsMessage } from '../domain/drift/card.js';
import type { DriftReport } from '../domain/drift/alert.js';
import { DEFAULT_DRIFT_RULES, parseDriftRules, type DriftRules } from '../domain/drift/rules.js';
import { FolderReportStore } from '../adapters/files/folder-report-store.js';
import { TeamsNotifier } from '../adapters/teams/teams-notifier.js';
import { DamagedMetricsError, detectDay } from '../usecases/drift/run-drift.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const DRIFT_HELP = `Usage: chargeback drift --reports DIR --date YYYY-MM-DD --out DIR [--rules FILE]
                        [--baseline-days N] [--teams-url URL]
       (--days N is the same as --baseline-days N, as cost-gate names its history)

Compares the day's metrics-DATE.json in --reports with the N days before it (default: the rules
file's baselineDays, 28) and writes DIR/alerts-DATE.json (the alerts, and the ids of alerts that
no longer hold) and DIR/teams-DATE.json (the exact messages that are, or would be, posted: a JSON
array of Workflows envelopes). Alerts open before the day are those of the latest alerts-*.json
before DATE in --out. With --teams-url, posts the messages to that Teams Workflows webhook.
Exit 0 when done (alerts or not), 1 when a post failed after its retries (the files are still
written), 2 on bad arguments or unreadable input.`;

export interface DriftOptions {
  readonly reportsDir: string;
  readonly date: string;
  readonly outDir: string;
  readonly rulesPath?: string;
  readonly baselineDays?: number;
  readonly teamsUrl?: string;
}

// contracts.md §9 names the history --baseline-days; the shared grammar's --days is read as the same.
const SPELLINGS = [{ from: 'days', to: 'baseline-days', deprecated: false }] as const;

export function parseDriftArgs(
  args: readonly string[],
  notice?: (message: string) => void,
): DriftOptions | 'help' {
  const { values } = parseArgsOrThrow(
    args,
    {
      reports: { type: 'string' },
      date: { type: 'string' },
      out: { type: 'string' },
      rules: { type: 'string' },
      'baseline-days': { type: 'string' },
      'teams-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    { spellings: SPELLINGS, ...(notice === undefined ? {} : { notice }) },
  );
  if (values.help === true) return 'help';
  const text = (name: string): string | undefined =>
    typeof values[name] === 'string' ? values[name] : undefined;
  const reportsDir = text('reports');
  const date = text('date');
  const outDir = text('out');
  if (reportsDir === undefined || date === undefined || outDir === undefined)
    throw new UsageError('drift needs --reports DIR, --date YYYY-MM-DD and --out DIR');
  if (!isDay(date)) throw new UsageError(`--date must be a day YYYY-MM-DD, got "${date}"`);
  const days = text('baseline-days');
  if (days !== undefined && !/^\d{1,3}$/.test(days))
    throw new UsageError(`--baseline-days must be a whole number of days from 0 to 366, got "${days}"`);
  const baselineDays = days === undefined ? undefined : Number(days);
  if (baselineDays !== undefined && baselineDays > 366)
    throw new UsageError(`--baseline-days must be a whole number of days from 0 to 366, got "${days ?? ''}"`);
  return {
    reportsDir,
    date,
    outDir,
    ...(text('rules') === undefined ? {} : { rulesPath: text('rules') }),
    ...(baselineDays === undefined ? {} : { baselineDays }),
    ...(text('teams-url') === undefined ? {} : { teamsUrl: text('teams-url') }),
  };
}

export interface DriftOutcome {
  readonly report: DriftReport;
  readonly alertsPath: string;
  readonly teamsPath: string;
  readonly messages: number;
  /** Why posting failed, when it did (never holds the URL). */
  readonly postError?: string;
}

/**
 * `chargeback drift` (contracts.md §9): the daily Function's detection (detectDay) over a folder of
 * reports. What differs is contracts.md §9's: the alerts open before the day are those of the latest
 * alerts file before it in --out, every alert of the day is in teams-DATE.json and posted (the
 * Function's lifecycle, which holds back an alert that persists unchanged, keeps its state in
 * Table Storage), and a damaged history day is an error (exit 2), not skipped.
 */
export async function runDrift(options: DriftOptions, fetchImpl?: typeof fetch): Promise<DriftOutcome> {
  const rules = await readRules(options.rulesPath, options.baselineDays);
  // Built first: an Office 365 connector URL is refused before anything is written.
  const notifier =
    options.teamsUrl === undefined
      ? undefined
      : new TeamsNotifier({
          url: options.teamsUrl,
          ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
        });
  const reports = new FolderReportStore(options.reportsDir);
  let detected: Awaited<ReturnType<typeof detectDay>>;
  try {
    detected = await detectDay(options.date, await openBefore(options.outDir, options.date), {
      reports,
      rules,
      damagedHistory: 'fail',
    });
  } catch (error) {
    if (error instanceof DamagedMetricsError)
      throw new UsageError(`${join(options.reportsDir, `metrics-${error.day}.json`)}: ${error.message}`);
    throw new UsageError((error as Error).message); // a file that cannot be read at all names itself
  }
  if (detected === undefined)
    throw new UsageError(`no metrics-${options.date}.json in --reports ${options.reportsDir}`);
  const { report } = detected;
  const messages: TeamsMessage[] = driftMessages(report).map((m) => m.message);
  const alertsPath = join(options.outDir, `alerts-${options.date}.json`);
  const teamsPath = join(options.outDir, `teams-${options.date}.json`);
  await writeAtomically(options.outDir, alertsPath, `${JSON.stringify(report, null, 2)}\n`);
  await writeAtomically(options.outDir, teamsPath, `${JSON.stringify(messages, null, 2)}\n`);
  let postError: string | undefined;
  if (notifier !== undefined) {
    for (const message of messages) {
      try {
        await notifier.post(message);
      } catch (error) {
        postError = (error as Error).message;
        break;
      }
    }
  }
  return {
    report,
    alertsPath,
    teamsPath,
    messages: messages.length,
    ...(postError === undefined ? {} : { postError }),
  };
}

async function readRules(path: string | undefined, baselineDays: number | undefined): Promise<DriftRules> {
  let rules = DEFAULT_DRIFT_RULES;
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --rules ${path}: ${(error as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--rules ${path}: not valid JSON: ${(error as Error).message}`);
    }
    rules = parseDriftRules(json);
  }
  if (baselineDays === undefined) return rules;
  return parseDriftRules({
    ...rules,
    baselineDays,
    minBaselineDays: Math.min(rules.minBaselineDays, baselineDays),
  });
}

/** The alerts of the latest alerts-*.json before `day` in `outDir`: the command line's open set. */
async function openBefore(outDir: string, day: string): Promise<Set<string>> {
  let names: string[];
  try {
    names = await readdir(outDir);
  } catch {
    return new Set();
  }
  const latest = names
    .map((n) => /^alerts-(\d{4}-\d{2}-\d{2})\.json$/.exec(n)?.[1])
    .filter((d): d is string => d !== undefined && d < day)
    .sort()
    .at(-1);
  if (latest === undefined) return new Set();
  const path = join(outDir, `alerts-${latest}.json`);
  try {
    const previous = JSON.parse(await readFile(path, 'utf8')) as { alerts?: { id?: unknown }[] };
    return new Set(
      (previous.alerts ?? []).map((a) => a.id).filter((id): id is string => typeof id === 'string'),
    );
  } catch (error) {
    throw new UsageError(`${path}: ${(error as Error).message}`);
  }
}

async function writeAtomically(outDir: string, path: string, text: string): Promise<void> {
  try {
    await mkdir(outDir, { recursive: true });
    await writeFile(`${path}.partial`, text, 'utf8');
    await rename(`${path}.partial`, path);
  } catch (error) {
    throw new UsageError(`cannot write to --out ${outDir}: ${(error as Error).message}`);
  }
}
