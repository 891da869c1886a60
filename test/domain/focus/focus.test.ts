import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPriceCard } from '../../../src/composition/files.js';
import { FolderReportStore } from '../../../src/adapters/files/folder-report-store.js';
import { FOCUS_COLUMNS, FOCUS_VERSION } from '../../../src/domain/focus/focus.js';
import { decimal } from '../../../src/domain/monthly/daily-rows.js';
import { neutralise, restoreNeutralised } from '../../../src/domain/report/csv.js';
import { simulateDay } from '../../../src/simulator/simulate.js';
import { writeMonthlyReport } from '../../../src/usecases/monthly/monthly-report.js';
import { runDay, type DayReport } from '../../helpers/events.js';
import { focusViolations, MANDATORY_COLUMNS, parseFocus } from './focus-rules.js';

const prices = readPriceCard('prices/azure-a100.json');
const SKU = 'Standard_NC24ads_A100_v4';
const DAYS = ['2026-10-05', '2026-10-06'] as const;

/** Tenant and feature names a spreadsheet or a JSON reader could trip on; all legal (contracts.md §2). */
const HOSTILE = [
  ["=cmd|' /C calc'!A0", '+SUM(A1:A9)'],
  ['__proto__', 'constructor'],
  ['Tailwind, "Retail" Ltd', '@feature, with "quotes"'],
  ['-1', '"=after a quote'],
  ['woodgrove 🌲', 'ｆｕｌｌ＝width'],
  ["'=already quoted", 'hasOwnProperty'],
] as const;

/** A day of the simulator (several tenants, idle time) plus a pod serving the hostile names. */
function simulatedDay(date: string, seed: number): DayReport {
  const events: Record<string, unknown>[] = [...simulateDay({ date, pods: 4, seed, requests: 1500 })].map(
    (event) => event.json,
  );
  const base = Date.parse(`${date}T06:00:00Z`);
  const iso = (seconds: number): string => new Date(base + seconds * 1000).toISOString();
  events.push({
    type: 'capacity',
    schemaVersion: 1,
    eventId: `${date}-hostile-capacity`,
    pod: 'pod-hostile',
    gpuSku: SKU,
    gpuCount: 1,
    model: '=model|name',
    windowStart: iso(0),
    windowEnd: iso(600),
  });
  HOSTILE.forEach(([tenant, feature], i) => {
    events.push({
      type: 'usage',
      schemaVersion: 1,
      eventId: `${date}-hostile-${i}`,
      requestId: `r-${i}`,
      tenant,
      feature,
      model: '=model|name',
      requestClass: i % 2 === 0 ? 'interactive' : '@batch',
      pod: 'pod-hostile',
      gpuSku: SKU,
      gpuCount: 1,
      startedAt: iso(10 + i * 40),
      firstTokenAt: iso(12 + i * 40),
      finishedAt: iso(40 + i * 40),
      promptTokens: 100 + i,
      completionTokens: 20 + i,
      status: 'ok',
    });
  });
  // Names the intake refuses (a newline, a lone surrogate) never reach a file.
  events.push({ ...events[events.length - 1], eventId: `${date}-newline`, tenant: 'line\nbreak' });
  events.push({ ...events[events.length - 1], eventId: `${date}-surrogate`, tenant: 'lone \ud800' });
  return runDay(events, { date, prices });
}

/** A decimal cell as integer micro-units (6 places), exactly. */
function micros(cell: string | undefined): bigint {
  return decimal(cell ?? '', 6, 'cell');
}

function csvRows(text: string): Record<string, string>[] {
  return Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true }).data;
}

describe(`FOCUS ${FOCUS_VERSION} export of a day`, () => {
  const day = simulatedDay(DAYS[0], 11);
  const focus = parseFocus(day.focus);

  it('has every mandatory column and custom ones only with the x_ prefix', () => {
    expect(focus.header).toEqual([...FOCUS_COLUMNS]);
    for (const column of MANDATORY_COLUMNS) expect(focus.header).toContain(column);
  });

  it('keeps every rule of the columns it writes, on every row', () => {
    expect(focusViolations(day.focus)).toEqual([]);
  });

  it('has a rules check that finds broken files (it is not vacuous)', () => {
    const broken = (from: string, to: string): string[] => focusViolations(day.focus.replace(from, to));
    expect(broken(',Usage,', ',Use,')).toEqual(
      expect.arrayContaining([expect.stringContaining('ChargeCategory: MUST')]),
    );
    expect(broken('T00:00:00Z', ' 00:00:00')).not.toEqual([]);
    expect(broken('GPU-Seconds', 'gpu seconds')).not.toEqual([]);
    expect(broken('BilledCost,', 'Cost,')).toContain('column BilledCost missing');
    const idleAt = day.focus.indexOf(',idle,');
    expect(
      focusViolations(`${day.focus.slice(0, idleAt)},allocated,${day.focus.slice(idleAt + 6)}`),
    ).not.toEqual([]);
  });

  it('is one charge per CSV row, in the same order, idle rows their own charge', () => {
    expect(focus.rows.length).toBe(day.rows.length);
    expect(focus.rows.some((r) => r.x_ChargeKind === 'idle')).toBe(true);
    focus.rows.forEach((row, i) => {
      const csv = day.rows[i] ?? {};
      expect(row.BilledCost).toBe(csv.costUsd);
      expect(row.x_GpuSeconds).toBe(csv.gpuSeconds);
      expect(row.x_Requests).toBe(csv.requests);
      expect(row.x_PromptTokens).toBe(csv.promptTokens);
      expect(row.x_CompletionTokens).toBe(csv.completionTokens);
      expect(row.x_CachedPromptTokens).toBe(csv.cachedPromptTokens);
      const tags = JSON.parse(row.Tags ?? '{}') as Record<string, string>;
      if (csv.tenant === '(idle)') {
        expect(row.x_ChargeKind).toBe('idle');
        expect(tags).toEqual({ model: restoreNeutralised(csv.model ?? '') });
      } else {
        expect(neutralise(tags.tenant ?? '')).toBe(csv.tenant);
        expect(neutralise(tags.feature ?? '')).toBe(csv.feature);
        expect(neutralise(tags.model ?? '')).toBe(csv.model);
        expect(neutralise(tags.requestClass ?? '')).toBe(csv.requestClass);
      }
    });
  });

  it('adds up to the CSV and the summary to the micro-dollar', () => {
    const sum = (rows: Record<string, string>[], column: string): bigint =>
      rows.reduce((total, row) => total + micros(row[column]), 0n);
    expect(sum(focus.rows, 'BilledCost')).toBe(sum(day.rows, 'costUsd'));
    expect(sum(focus.rows, 'EffectiveCost')).toBe(sum(day.rows, 'costUsd'));
    expect(sum(focus.rows, 'BilledCost')).toBe(micros(String(day.summaryJson.fleetCostUsd)));
    const idle = focus.rows.filter((r) => r.x_ChargeKind === 'idle');
    expect(sum(idle, 'BilledCost')).toBe(micros(String(day.summaryJson.idleCostUsd)));
  });

  it('splits each deployment whole: the allocated ratios of a model add up to 1', () => {
    const byModel = new Map<string, number>();
    for (const row of focus.rows) {
      const details = JSON.parse(row.AllocatedMethodDetails ?? '{}') as {
        Elements: { AllocatedRatio: number }[];
      };
      const ratio = details.Elements[0]?.AllocatedRatio ?? 0;
      byModel.set(row.ResourceId ?? '', (byModel.get(row.ResourceId ?? '') ?? 0) + ratio);
    }
    for (const total of byModel.values()) expect(total).toBeCloseTo(1, 9);
  });

  it('writes hostile names safely: Tags hold them as sent, no cell starts a formula', () => {
    const tagged = focus.rows.map((r) => JSON.parse(r.Tags ?? '{}') as Record<string, string>);
    for (const [tenant, feature] of HOSTILE)
      expect(tagged.some((t) => t.tenant === tenant && t.feature === feature)).toBe(true);
    expect(tagged.some((t) => t.tenant === 'line\nbreak' || t.tenant === 'lone \ud800')).toBe(false);
    // A cell a spreadsheet would run as a formula is quoted as the daily CSV quotes it (contracts.md §5).
    for (const row of focus.rows)
      for (const cell of Object.values(row))
        if (/^[\s"'`\u2018\u2019\u201c\u201d]*[=+\-@\uff1d\uff0b\uff0d\uff20]/u.test(cell))
          expect(cell[0]).toBe("'");
    const hostileRows = focus.rows.filter((r) => r.ResourceName === "'=model|name");
    expect(hostileRows.length).toBe(HOSTILE.length + 1);
    expect(hostileRows.map((r) => r.AllocatedResourceName)).toContain("'=cmd|' /C calc'!A0 / +SUM(A1:A9)");
    expect(hostileRows.map((r) => r.AllocatedResourceName)).toContain("''=already quoted / hasOwnProperty");
    expect(Object.getPrototypeOf(tagged[0])).toBe(Object.prototype);
  });
});

describe(`FOCUS ${FOCUS_VERSION} export of a month`, () => {
  let dir = '';
  const days = DAYS.map((date, i) => simulatedDay(date, 21 + i));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'focus-month-'));
    const store = new FolderReportStore(dir);
    for (const [i, report] of days.entries()) {
      const date = DAYS[i] ?? '';
      await store.write(
        date,
        { csv: report.csv, summary: report.summary, metrics: report.metrics, focus: report.focus },
        { revision: 1, ledgerAsOf: '' },
      );
    }
    await writeMonthlyReport(store, '2026-10', new Date('2026-11-02T00:30:00Z'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the day file beside the day CSV, as rendered', async () => {
    expect(await readFile(join(dir, `focus-${DAYS[0]}.csv`), 'utf8')).toBe(days[0]?.focus);
  });

  it('keeps every rule, and is the days charges one after the other', async () => {
    const text = await readFile(join(dir, 'focus-2026-10.csv'), 'utf8');
    expect(focusViolations(text)).toEqual([]);
    const month = parseFocus(text).rows;
    const daily = days.flatMap((d) => parseFocus(d.focus).rows);
    expect(month).toEqual(daily);
    expect(month.every((r) => r.BillingPeriodStart === '2026-10-01T00:00:00Z')).toBe(true);
    expect(month.every((r) => r.BillingPeriodEnd === '2026-11-01T00:00:00Z')).toBe(true);
  });

  it('adds up to the monthly CSV to the micro-dollar', async () => {
    const monthCsv = csvRows(await readFile(join(dir, 'chargeback-2026-10.csv'), 'utf8'));
    const focus = parseFocus(await readFile(join(dir, 'focus-2026-10.csv'), 'utf8')).rows;
    const sum = (rows: Record<string, string>[], column: string): bigint =>
      rows.reduce((total, row) => total + micros(row[column]), 0n);
    expect(sum(focus, 'BilledCost')).toBe(sum(monthCsv, 'costUsd'));
    expect(sum(focus, 'BilledCost')).toBeGreaterThan(0n);
  });
});
