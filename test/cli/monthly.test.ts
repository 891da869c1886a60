import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatScaled } from '../../src/domain/exact.js';
import { decimal } from '../../src/domain/monthly/daily-rows.js';
import { CSV_COLUMNS } from '../../src/domain/report/csv.js';
import { runMain } from '../helpers/cli.js';

let dir: string;
const DAYS = ['2026-09-01', '2026-09-02', '2026-09-05'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'monthly-'));
  for (const [i, date] of DAYS.entries()) {
    const events = join(dir, `${date}.ndjson`);
    expect(
      (
        await runMain([
          'simulate',
          '--date',
          date,
          '--out',
          events,
          '--pods',
          '3',
          '--requests',
          '3000',
          '--seed',
          String(i + 7),
        ])
      ).code,
    ).toBe(0);
    expect(
      (
        await runMain([
          'report',
          '--events',
          events,
          '--prices',
          'prices/azure-a100.json',
          '--date',
          date,
          '--out',
          join(dir, 'reports'),
        ])
      ).code,
    ).toBe(0);
  }
}, 240_000);

type Row = Record<string, string>;
const read = (path: string): Row[] =>
  Papa.parse<Row>(readFileSync(path, 'utf8'), { header: true, skipEmptyLines: true }).data;
const key = (r: Row): string => JSON.stringify([r.tenant, r.feature, r.model, r.requestClass]);

describe('chargeback monthly', () => {
  it('writes a CSV whose every row is the exact sum of the daily rows, with the days counted', async () => {
    const out = join(dir, 'sept');
    const result = await runMain([
      'monthly',
      '--reports',
      join(dir, 'reports'),
      '--month',
      '2026-09',
      '--out',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('3 day(s) reported, 27 day(s) missing');
    const expected = new Map<string, { days: number; sums: Map<string, bigint> }>();
    const summed = ['requests', 'errorRequests', 'promptTokens', 'completionTokens', 'cachedPromptTokens'];
    for (const date of DAYS) {
      for (const row of read(join(dir, 'reports', `chargeback-${date}.csv`))) {
        const entry = expected.get(key(row)) ?? { days: 0, sums: new Map<string, bigint>() };
        entry.days += 1;
        for (const column of summed)
          entry.sums.set(column, (entry.sums.get(column) ?? 0n) + BigInt(row[column] || '0'));
        entry.sums.set(
          'gpuSeconds',
          (entry.sums.get('gpuSeconds') ?? 0n) + decimal(row.gpuSeconds ?? '', 3, 'gpu'),
        );
        entry.sums.set('costUsd', (entry.sums.get('costUsd') ?? 0n) + decimal(row.costUsd ?? '', 6, 'cost'));
        expected.set(key(row), entry);
      }
    }
    const monthly = read(join(out, 'chargeback-2026-09.csv'));
    expect(monthly.length).toBe(expected.size);
    for (const row of monthly) {
      const want = expected.get(key(row));
      expect(want, key(row)).toBeDefined();
      expect(row.month).toBe('2026-09');
      expect(Number(row.days)).toBe(want?.days);
      expect(row.costUsd).toBe(formatScaled(want?.sums.get('costUsd') ?? -1n, 6));
      expect(row.gpuSeconds).toBe(formatScaled(want?.sums.get('gpuSeconds') ?? -1n, 3));
      for (const column of ['requests', 'errorRequests'])
        expect(row[column], column).toBe(want?.sums.get(column)?.toString());
      if (row.tenant !== '(idle)') {
        expect(row.promptTokens).toBe(want?.sums.get('promptTokens')?.toString());
        expect(Number(row.p95LatencyMs)).toBeGreaterThanOrEqual(Number(row.p50LatencyMs));
      }
    }
    expect(Object.keys(monthly[0] ?? {})).toEqual([
      'month',
      ...CSV_COLUMNS.slice(1, 5),
      'days',
      ...CSV_COLUMNS.slice(5),
    ]);
    const summary = JSON.parse(readFileSync(join(out, 'summary-2026-09.json'), 'utf8')) as {
      daysMissing: string[];
      daysReported: string[];
    };
    expect(summary.daysReported).toEqual(DAYS);
    expect(summary.daysMissing).toHaveLength(27);
    expect(summary.daysMissing).toContain('2026-09-03');
    // The month's FOCUS file beside it: its billed cost adds up to the monthly CSV's, exactly.
    const micros = (rows: Row[], column: string): bigint =>
      rows.reduce((sum, r) => sum + decimal(r[column] ?? '', 6, column), 0n);
    const focus = read(join(out, 'focus-2026-09.csv'));
    expect(focus.length).toBeGreaterThan(0);
    expect(micros(focus, 'BilledCost')).toBe(micros(read(join(out, 'chargeback-2026-09.csv')), 'costUsd'));
  });

  it('ranks features by value per dollar with a value file, and refuses a bad one naming the field', async () => {
    const values = join(dir, 'values.json');
    writeFileSync(
      values,
      JSON.stringify({
        currency: 'USD',
        features: { chat: { valuePerRequestUsd: 0.01 }, translate: { valuePerMonthUsd: '300' } },
      }),
    );
    const out = join(dir, 'valued');
    expect(
      (
        await runMain([
          'monthly',
          '--reports',
          join(dir, 'reports'),
          '--month',
          '2026-09',
          '--out',
          out,
          '--values',
          values,
        ])
      ).code,
    ).toBe(0);
    const html = readFileSync(join(out, 'report-2026-09.html'), 'utf8');
    expect(html).toContain('Cost against value per feature');
    // A monthly value over 3 of 30 days counts a tenth: $30.00.
    expect(html).toMatch(
      /translate<\/td><td class="n" data-micros="\d+">\$[\d.,]+<\/td><td class="n" data-micros="30000000">\$30\.00/,
    );
    writeFileSync(
      values,
      JSON.stringify({ currency: 'USD', features: { chat: { valuePerRequestUsd: -1 } } }),
    );
    const bad = await runMain([
      'monthly',
      '--reports',
      join(dir, 'reports'),
      '--month',
      '2026-09',
      '--out',
      out,
      '--values',
      values,
    ]);
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      'chargeback: value file: features.chat.valuePerRequestUsd: must be an amount >= 0 with at most 6 decimals',
    ]);
  });

  it('escapes hostile names on the page, and names a broken daily file', async () => {
    const reports = join(dir, 'hostile');
    mkdirSync(reports);
    const header = CSV_COLUMNS.join(',');
    writeFileSync(
      join(reports, 'chargeback-2026-08-01.csv'),
      `${header}\r\n2026-08-01,evil,"<script>alert(1)</script>",m,interactive,1,0,1,1,0,1.000,1.000000,0.500000,1,1\r\n`,
    );
    const out = join(dir, 'hostile-out');
    expect((await runMain(['monthly', '--reports', reports, '--month', '2026-08', '--out', out])).code).toBe(
      0,
    );
    const html = readFileSync(join(out, 'report-2026-08.html'), 'utf8');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    writeFileSync(
      join(reports, 'chargeback-2026-08-02.csv'),
      `${header}\r\n2026-08-02,a,b,m,c,1,0,1,1,0,x,1.0,,1,1\r\n`,
    );
    const broken = await runMain(['monthly', '--reports', reports, '--month', '2026-08', '--out', out]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('chargeback-2026-08-02.csv line 2: gpuSeconds');
  });

  it('reads a reports container downloaded as it is laid out (chargeback/YYYY/MM/DD/), to the same CSV', async () => {
    const downloaded = join(dir, 'container');
    for (const date of DAYS) {
      const folder = join(downloaded, 'chargeback', ...date.split('-'));
      mkdirSync(folder, { recursive: true });
      for (const name of [`chargeback-${date}.csv`, `metrics-${date}.json`])
        writeFileSync(join(folder, name), readFileSync(join(dir, 'reports', name)));
    }
    const out = join(dir, 'from-container');
    expect(
      (await runMain(['monthly', '--reports', downloaded, '--month', '2026-09', '--out', out])).code,
    ).toBe(0);
    const flat = join(dir, 'flat');
    expect(
      (await runMain(['monthly', '--reports', join(dir, 'reports'), '--month', '2026-09', '--out', flat]))
        .code,
    ).toBe(0);
    expect(readFileSync(join(out, 'chargeback-2026-09.csv'), 'utf8')).toBe(
      readFileSync(join(flat, 'chargeback-2026-09.csv'), 'utf8'),
    );
  });

  it('refuses bad arguments', async () => {
    expect(
      (await runMain(['monthly', '--reports', dir, '--month', '2026-13', '--out', dir])).stderr,
    ).toContain('--month must be YYYY-MM');
    expect((await runMain(['monthly', '--month', '2026-09'])).code).toBe(2);
  });
});
