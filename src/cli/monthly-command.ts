import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigurationError } from '../domain/errors.js';
import { parseValues } from '../domain/monthly/values.js';
import { folderSource } from '../adapters/files/report-folder.js';
import { daysOfMonth, monthlyReport } from '../usecases/monthly/monthly-report.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const MONTHLY_HELP = `Usage: chargeback monthly --reports DIR --month YYYY-MM --out DIR [--values FILE]

The month's chargeback from the daily reports in DIR (chargeback-DATE.csv and metrics-DATE.json, as
'chargeback report' writes them): DIR/chargeback-YYYY-MM.csv (the daily columns summed exactly,
a days column, p50 and p95 latency from the summed histograms), report-YYYY-MM.html (one
self-contained page with charts, for a browser or a printer) and summary-YYYY-MM.json, and focus-YYYY-MM.csv (the charges in the FinOps FOCUS format, docs/focus.md). Days with no
report are named as missing on the page and in the summary, never counted as zero. With --values,
a JSON file of what each feature is worth ({"currency": "USD", "features": {"chat":
{"valuePerRequestUsd": 0.004}, "search": {"valuePerMonthUsd": 20000}}}), the page ranks features by
value per dollar of GPU cost.
Exit 0 when written, 1 when a daily file cannot be read as a report, 2 on bad arguments.`;

export interface MonthlyOptions {
  readonly reportsDir: string;
  readonly month: string;
  readonly outDir: string;
  readonly valuesPath?: string;
}

export function parseMonthlyArgs(args: readonly string[]): MonthlyOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    reports: { type: 'string' },
    month: { type: 'string' },
    out: { type: 'string' },
    values: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const missing = ['reports', 'month', 'out'].filter((name) => typeof values[name] !== 'string');
  if (missing.length > 0) throw new UsageError(`monthly needs ${missing.map((m) => `--${m}`).join(', ')}`);
  const month = String(values.month);
  if (daysOfMonth(month) === undefined) throw new UsageError(`--month must be YYYY-MM, got "${month}"`);
  return {
    reportsDir: String(values.reports),
    month,
    outDir: String(values.out),
    ...(typeof values.values === 'string' ? { valuesPath: values.values } : {}),
  };
}

export async function runMonthly(options: MonthlyOptions, now = new Date()): Promise<string> {
  let values;
  if (options.valuesPath !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(options.valuesPath, 'utf8'));
    } catch (error) {
      throw new ConfigurationError(`--values ${options.valuesPath}: ${(error as Error).message}`);
    }
    values = parseValues(json, 'USD');
  }
  const files = await monthlyReport({
    source: folderSource(options.reportsDir),
    month: options.month,
    now,
    ...(values === undefined ? {} : { values }),
  });
  await mkdir(options.outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of [
    [`chargeback-${options.month}.csv`, files.csv],
    [`report-${options.month}.html`, files.html],
    [`summary-${options.month}.json`, files.summary],
    [`focus-${options.month}.csv`, files.focus],
  ] as const) {
    const path = join(options.outDir, name);
    await writeFile(`${path}.partial`, text);
    await rename(`${path}.partial`, path);
    written.push(path);
  }
  const { period } = files;
  const missing =
    period.missing.length === 0
      ? 'no day missing'
      : `${period.missing.length} day(s) missing: ${period.missing.join(', ')}`;
  return `wrote ${written.join(', ')}\n${period.days.length} day(s) reported, ${missing}`;
}
