import Papa from 'papaparse';
import type { ChargebackResult, ChargebackRow } from '../chargeback.js';
import { formatGpuSeconds, formatMoney } from './format.js';
import { escapeControlCharacters } from '../text.js';

/** contracts.md §5 columns, in order. */
export const CSV_COLUMNS = [
  'date',
  'tenant',
  'feature',
  'model',
  'requestClass',
  'requests',
  'errorRequests',
  'promptTokens',
  'completionTokens',
  'cachedPromptTokens',
  'gpuSeconds',
  'costUsd',
  'costPer1kTokensUsd',
  'p50LatencyMs',
  'p95LatencyMs',
] as const;

// Cells a spreadsheet would read as a formula (OWASP "CSV injection"): prefix with a quote. The
// trigger counts after leading whitespace and quote characters too (" =1+2" is still a formula to
// some spreadsheets), and full-width forms, which some locales fold into the ASCII ones.
const FORMULA_START = /^[\s"'`\u2018\u2019\u201c\u201d]*[=+\-@\uff1d\uff0b\uff0d\uff20]/u;

/** Makes a text cell safe for a spreadsheet: control characters escaped, formulas neutralised (contracts.md §5). */
export function neutralise(text: string): string {
  // contracts.md §2 forbids control characters in tenant and feature only; model and requestClass may carry
  // them, and rejecting those events would leave served requests unbilled. So the CSV shows each
  // one as the text \uXXXX (the summary JSON has the raw value): a NUL or lone CR never reaches a
  // spreadsheet, and grouping, done before, is unchanged.
  const visible = escapeControlCharacters(text);
  return FORMULA_START.test(visible) ? `'${visible}` : visible;
}

/**
 * A neutralised cell's text as it was before (contracts.md §5 cells read back, e.g. for FOCUS Tags): the
 * quote `neutralise` put before a formula taken off. Unambiguous, because a text that already began
 * with a quote and a formula was itself prefixed. Control characters stay escaped.
 */
export function restoreNeutralised(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
}

/**
 * The report CSV: RFC 4180 (CRLF line ends, quotes where needed), UTF-8, header row, rows sorted
 * by costUsd descending then by the key columns, so that the bytes depend only on the data.
 */
export function renderCsv(date: string, result: ChargebackResult): string {
  return unparseCsv(
    CSV_COLUMNS,
    [...result.rows].sort(compareRows).map((row) => toCells(date, row)),
  );
}

/** RFC 4180 text of a header and rows: CRLF after every line, quotes only where a cell needs them. */
export function unparseCsv(header: readonly string[], rows: string[][]): string {
  return `${Papa.unparse({ fields: [...header], data: rows }, { newline: '\r\n', quotes: false })}\r\n`;
}

/** The CSV's row order: costUsd as printed, descending, then the key columns. */
export function compareRows(a: ChargebackRow, b: ChargebackRow): number {
  // Sort on the printed micro-dollars: rows that print the same cost fall back to the keys.
  const byCost = Math.round(b.nanos / 1000) - Math.round(a.nanos / 1000);
  if (byCost !== 0) return byCost;
  for (const column of ['tenant', 'feature', 'model', 'requestClass'] as const) {
    if (a[column] !== b[column]) return a[column] < b[column] ? -1 : 1;
  }
  return 0;
}

function toCells(date: string, row: ChargebackRow): string[] {
  const tokens = row.promptTokens + row.completionTokens;
  const blankForIdle = (value: string): string => (row.idle ? '' : value);
  const p50 = row.latencies.percentile(50);
  const p95 = row.latencies.percentile(95);
  return [
    date,
    neutralise(row.tenant),
    neutralise(row.feature),
    neutralise(row.model),
    neutralise(row.requestClass),
    String(row.requests),
    String(row.errorRequests),
    blankForIdle(String(row.promptTokens)),
    blankForIdle(String(row.completionTokens)),
    blankForIdle(String(row.cachedPromptTokens)),
    formatGpuSeconds(row.gpuMicros),
    formatMoney(row.nanos),
    tokens > 0 && !row.idle ? formatMoney((row.nanos * 1000) / tokens) : '',
    p50 === undefined || row.idle ? '' : String(p50),
    p95 === undefined || row.idle ? '' : String(p95),
  ];
}
