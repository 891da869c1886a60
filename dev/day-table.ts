/**
 * The table `npm start` prints of a day's chargeback CSV: the most expensive features, retraining
 * jobs as retraining (tenant `(retraining)`, whose feature is the model retrained, is no feature),
 * idle GPU-time as idle, and the most expensive tenants. Columns are as wide as their widest cell;
 * counts say "1 request", "2 requests".
 */
import Papa from 'papaparse';
import { IDLE_TENANT } from '../src/domain/admission.js';
import { RETRAINING_TENANT } from '../src/domain/retrain/charge.js';
import { escapeControlCharacters } from '../src/domain/text.js';

interface Line {
  readonly label: string;
  readonly costMicros: bigint;
  readonly count: bigint;
  readonly noun: 'request' | 'job' | '';
  readonly tokens: bigint;
}

/** Money as the CSV prints it (6 decimals), read exactly, in micro-dollars. */
function micros(text: string | undefined): bigint {
  const match = /^(\d+)(?:\.(\d{1,6}))?$/.exec(text ?? '');
  if (match === null) return 0n;
  return BigInt(`${match[1] ?? '0'}${(match[2] ?? '').padEnd(6, '0')}`);
}

function integer(text: string | undefined): bigint {
  return /^\d+$/.test(text ?? '') ? BigInt(text ?? '0') : 0n;
}

/** Rounded to cents, half up: "90.66". */
function usd(m: bigint): string {
  const cents = (m + 5_000n) / 10_000n;
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

function add(
  lines: Map<string, Line>,
  key: string,
  line: Omit<Line, 'costMicros' | 'count' | 'tokens'>,
  row: Record<string, string>,
): void {
  const sum = lines.get(key);
  lines.set(key, {
    ...line,
    costMicros: (sum?.costMicros ?? 0n) + micros(row.costUsd),
    count: (sum?.count ?? 0n) + integer(row.requests),
    tokens: (sum?.tokens ?? 0n) + integer(row.promptTokens) + integer(row.completionTokens),
  });
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** How many characters a terminal shows for the text: graphemes, so an emoji or an accent is one. */
function shownLength(text: string): number {
  let n = 0;
  for (const _ of graphemes.segment(text)) n++;
  return n;
}

/**
 * Rows of cells as lines, each column as wide as its widest cell, two spaces apart; `right[i]`
 * aligns column i to the right (numbers). Trailing spaces are dropped.
 */
export function alignColumns(
  rows: readonly (readonly string[])[],
  right: readonly boolean[],
  indent = '  ',
): string[] {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(0, ...rows.map((r) => shownLength(r[i] ?? ''))),
  );
  return rows.map((r) =>
    (
      indent +
      widths
        .map((w, i) => {
          const text = r[i] ?? '';
          const fill = ' '.repeat(w - shownLength(text));
          return right[i] === true ? fill + text : text + fill;
        })
        .join('  ')
    ).trimEnd(),
  );
}

/** Lines of text, aligned: label, cost, count and its noun ("1 request", "2 requests"), and cost per 1k tokens where there are tokens. */
function table(lines: readonly Line[]): string[] {
  const counts = lines.map((l) => (l.noun === '' ? '' : l.count.toLocaleString('en-US')));
  const countWidth = Math.max(0, ...counts.map((c) => c.length));
  return alignColumns(
    lines.map((l, i) => [
      escapeControlCharacters(l.label),
      usd(l.costMicros),
      l.noun === ''
        ? ''
        : `${(counts[i] ?? '').padStart(countWidth)} ${l.count === 1n ? l.noun : `${l.noun}s`}`,
      l.tokens > 0n ? `$${formatPer1k(l.costMicros, l.tokens)}/1k tokens` : '',
    ]),
    [false, true, false, false],
  );
}

/** Cost per 1k tokens with 4 decimals, half up, from micro-dollars. */
function formatPer1k(costMicros: bigint, tokens: bigint): string {
  // Per 1k tokens in units of 100 micro-dollars (4 decimals of a dollar): cost x 1000 / tokens / 100.
  const perKHundredMicros = (costMicros * 20n + tokens) / (tokens * 2n);
  const whole = perKHundredMicros / 10_000n;
  return `${whole}.${(perKHundredMicros % 10_000n).toString().padStart(4, '0')}`;
}

/**
 * The printed table of a day's CSV: the `top` largest features (with retraining per model and idle
 * among them, by cost), then the `top` largest tenants.
 */
export function dayTable(csv: string, date: string, top = 8): string[] {
  const rows = Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: true }).data;
  const features = new Map<string, Line>();
  const tenants = new Map<string, Line>();
  for (const row of rows) {
    const tenant = row.tenant ?? '';
    const feature = row.feature ?? '';
    if (tenant === IDLE_TENANT) {
      add(features, 'idle', { label: '(idle GPU-time)', noun: '' }, row);
      continue;
    }
    if (tenant === RETRAINING_TENANT) {
      add(features, `retraining ${feature}`, { label: `retraining of ${feature}`, noun: 'job' }, row);
      continue;
    }
    add(features, `feature ${feature}`, { label: feature, noun: 'request' }, row);
    add(tenants, tenant, { label: tenant, noun: 'request' }, row);
  }
  const largest = (lines: Map<string, Line>): Line[] =>
    [...lines.values()]
      .sort((a, b) =>
        a.costMicros === b.costMicros ? (a.label < b.label ? -1 : 1) : a.costMicros > b.costMicros ? -1 : 1,
      )
      .slice(0, top);
  return [
    `Top features by GPU cost on ${date} (USD), with retraining jobs and idle GPU-time:`,
    ...table(largest(features)),
    `Top tenants by GPU cost on ${date} (USD):`,
    ...table(largest(tenants)),
  ];
}
