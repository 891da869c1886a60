import Papa from 'papaparse';
import { PermanentError } from '../errors.js';
import { CSV_COLUMNS } from '../report/csv.js';
import { IDLE_TENANT } from '../admission.js';

/**
 * A daily chargeback CSV (contracts.md §5) read back exactly: counts as integers, GPU-seconds in integer
 * milli-seconds and money in integer micro-dollars, both as BigInt so that a month or a year of
 * them sums without loss (a month of a large fleet passes 2^53 nano-dollars). Text cells are kept
 * as printed (already made safe for spreadsheets), so they can be written again unchanged.
 */
export interface DailyRow {
  readonly date: string;
  readonly tenant: string;
  readonly feature: string;
  readonly model: string;
  readonly requestClass: string;
  readonly idle: boolean;
  readonly requests: bigint;
  readonly errorRequests: bigint;
  readonly promptTokens: bigint;
  readonly completionTokens: bigint;
  readonly cachedPromptTokens: bigint;
  readonly gpuMillis: bigint;
  readonly costMicros: bigint;
}

/** Parses one day's CSV; an error names the file, the line and the column. */
export function parseDailyCsv(text: string, source: string, expectedDate: string): DailyRow[] {
  const parsed = Papa.parse<string[]>(text, { skipEmptyLines: true });
  const [header, ...lines] = parsed.data;
  if (header?.join(',') !== CSV_COLUMNS.join(','))
    throw new PermanentError(
      `${source}: not a daily chargeback CSV (its header is not the contracts.md §5 columns)`,
    );
  return lines.map((cells, i) => {
    const where = `${source} line ${i + 2}`;
    if (cells.length !== CSV_COLUMNS.length)
      throw new PermanentError(`${where}: ${cells.length} cells, expected ${CSV_COLUMNS.length}`);
    const cell = (column: (typeof CSV_COLUMNS)[number]): string => cells[CSV_COLUMNS.indexOf(column)] ?? '';
    if (cell('date') !== expectedDate)
      throw new PermanentError(`${where}: date ${cell('date')} in the file of ${expectedDate}`);
    const idle = cell('tenant') === IDLE_TENANT;
    const count = (column: (typeof CSV_COLUMNS)[number]): bigint =>
      idle && cell(column) === '' ? 0n : decimal(cell(column), 0, `${where}: ${column}`);
    return {
      date: expectedDate,
      tenant: cell('tenant'),
      feature: cell('feature'),
      model: cell('model'),
      requestClass: cell('requestClass'),
      idle,
      requests: count('requests'),
      errorRequests: count('errorRequests'),
      promptTokens: count('promptTokens'),
      completionTokens: count('completionTokens'),
      cachedPromptTokens: count('cachedPromptTokens'),
      gpuMillis: decimal(cell('gpuSeconds'), 3, `${where}: gpuSeconds`),
      costMicros: decimal(cell('costUsd'), 6, `${where}: costUsd`),
    };
  });
}

/** A non-negative decimal with at most `places` decimals, scaled to an integer: "1.5" (3) -> 1500n. */
export function decimal(text: string, places: number, what: string): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (match === null || (match[2]?.length ?? 0) > places)
    throw new PermanentError(
      `${what}: "${text.slice(0, 40)}" is not a number with at most ${places} decimals`,
    );
  return BigInt(`${match[1] ?? '0'}${(match[2] ?? '').padEnd(places, '0')}`);
}
