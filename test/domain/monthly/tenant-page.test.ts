import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { BIN_EDGES } from '../../../src/domain/metrics/histogram.js';
import type { DailyMetrics } from '../../../src/domain/metrics/metrics.js';
import { decimal } from '../../../src/domain/monthly/daily-rows.js';
import { CSV_COLUMNS, neutralise, unparseCsv } from '../../../src/domain/report/csv.js';
import type { DailyReportSource } from '../../../src/ports/report-store.js';
import { dayPage, monthlyReport } from '../../../src/usecases/monthly/monthly-report.js';

/**
 * The report pages' tenant view, retraining and report state, read back from the HTML and compared
 * with the CSV the page was drawn from.
 */
const DAY = '2026-11-12';
const HOSTILE = [
  '<script>alert(1)</script>',
  '"quoted" & \'single\'',
  "=cmd|' /C calc'!A0",
  'evil\u202Egnp.exe',
  '__proto__',
];

type Row = [
  tenant: string,
  feature: string,
  model: string,
  requestClass: string,
  requests: number,
  cost: string,
];

const ROWS: Row[] = [
  ['(retraining)', 'llama-3.1-8b-instruct', 'llama-3.1-8b-instruct', 'retraining', 1, '90.660000'],
  ['contoso', 'chat', 'llama-3.1-8b-instruct', 'interactive', 120, '12.500000'],
  ['contoso', 'summarize', 'llama-3.1-8b-instruct', 'batch', 30, '3.250001'],
  ['fabrikam', 'chat', 'llama-3.1-8b-instruct', 'interactive', 50, '4.000000'],
  ...HOSTILE.map((tenant, i): Row => [
    tenant,
    HOSTILE[(i + 1) % HOSTILE.length] ?? '',
    'm',
    'interactive',
    i + 1,
    `0.${i + 1}00000`,
  ]),
  ['(idle)', '', 'llama-3.1-8b-instruct', '', 0, '40.000000'],
];

function csvOf(date: string, rows: readonly Row[]): string {
  return unparseCsv(
    CSV_COLUMNS,
    rows.map(([tenant, feature, model, requestClass, requests, cost]) => {
      const idle = tenant === '(idle)';
      const tokens = tenant.startsWith('(') ? '0' : String(requests * 100);
      return [
        date,
        neutralise(tenant),
        neutralise(feature),
        model,
        requestClass,
        String(requests),
        '0',
        idle ? '' : tokens,
        idle ? '' : tokens,
        idle ? '' : '0',
        '1.000',
        cost,
        '',
        idle ? '' : '1',
        idle ? '' : '1',
      ];
    }),
  );
}

function metricsOf(date: string, revision: number, rejected: number, unmeteredRequests: number): string {
  const metrics: DailyMetrics = {
    schemaVersion: 1,
    date,
    revision,
    generatedAt: `${date}T03:04:05.678Z`,
    currency: 'USD',
    fleet: {
      fleetCostUsd: 150.910001 + 1.5,
      allocatedCostUsd: 111.910001,
      idleCostUsd: 40,
      fleetGpuSeconds: 1,
      allocatedGpuSeconds: 1,
      idleGpuSeconds: 0,
      eventsRead: 10,
      usageEvents: 5,
      capacityEvents: 5,
      duplicatesDropped: 0,
      rejected,
      unmeteredRequests,
    },
    bins: BIN_EDGES,
    groups: [],
    models: [],
    pods: [],
  };
  return JSON.stringify(metrics);
}

function source(files: Record<string, { csv: string; metrics?: string }>): DailyReportSource {
  return {
    csv: (day) => Promise.resolve(files[day]?.csv),
    metrics: (day) => Promise.resolve(files[day]?.metrics),
  };
}

function decode(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The body rows of a section's table: each cell's text and its data-micros, if any. */
function rowsOf(html: string, section: string): { text: string; micros?: bigint }[][] {
  const start = html.indexOf(`<section id="${section}">`);
  expect(start, section).toBeGreaterThanOrEqual(0);
  const body = html.slice(start, html.indexOf('</section>', start));
  const tbody = /<tbody>([\s\S]*?)<\/tbody>/.exec(body)?.[1] ?? '';
  return [...tbody.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((tr) =>
    [...(tr[1] ?? '').matchAll(/<t[dh]([^>]*)>([\s\S]*?)<\/t[dh]>/g)].map((cell) => {
      const micros = /data-micros="(\d+)"/.exec(cell[1] ?? '')?.[1];
      return { text: decode(cell[2] ?? ''), ...(micros === undefined ? {} : { micros: BigInt(micros) }) };
    }),
  );
}

/** The CSV's costs summed by a key of each row that is neither idle nor retraining. */
function sums(csvs: readonly string[], key: (row: Record<string, string>) => string): Map<string, bigint> {
  const totals = new Map<string, bigint>();
  for (const csv of csvs)
    for (const row of Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: true }).data) {
      if (row.tenant === '(idle)' || row.tenant === '(retraining)') continue;
      // The page shows a bidirectional override as the text \u202e (never obeyed).
      const shown = (text: string | undefined): string => (text ?? '').replace(/\u202E/g, '\\u202e');
      const k = key({ ...row, tenant: shown(row.tenant), feature: shown(row.feature) });
      totals.set(k, (totals.get(k) ?? 0n) + decimal(row.costUsd ?? '', 6, 'costUsd'));
    }
  return totals;
}

const csv = csvOf(DAY, ROWS);

describe('the day page', () => {
  it("shows each tenant's cost as the CSV's rows of that tenant add up", async () => {
    const html = await dayPage(source({ [DAY]: { csv, metrics: metricsOf(DAY, 1, 0, 0) } }), DAY, new Date());
    const shown = new Map(
      rowsOf(html, 'cost-per-tenant').map((cells) => [cells[0]?.text ?? '', cells[1]?.micros]),
    );
    expect(shown).toEqual(sums([csv], (row) => row.tenant ?? ''));
  });

  it("shows each tenant's features as the CSV's rows of that tenant and feature add up", async () => {
    const html = await dayPage(source({ [DAY]: { csv, metrics: metricsOf(DAY, 1, 0, 0) } }), DAY, new Date());
    const shown = new Map(
      rowsOf(html, 'tenant-feature').map((cells) => [
        JSON.stringify([cells[0]?.text, cells[1]?.text]),
        cells[2]?.micros,
      ]),
    );
    expect(shown).toEqual(sums([csv], (row) => JSON.stringify([row.tenant, row.feature])));
  });

  it('states its revision, generation time, rejected lines and unmetered requests, as a warning when not clean', async () => {
    const restated = await dayPage(
      source({ [DAY]: { csv, metrics: metricsOf(DAY, 2, 1, 3) } }),
      DAY,
      new Date(),
    );
    const state = /<div class="(\w+)" id="report-state"([^>]*)>([\s\S]*?)<\/div>/.exec(restated);
    expect(state?.[1]).toBe('warn');
    expect(state?.[2]).toContain('data-revision="2"');
    expect(state?.[2]).toContain('data-rejected="1"');
    expect(state?.[2]).toContain('data-unmetered="3"');
    expect(decode(state?.[3] ?? '')).toContain(
      `Revision 2, report generated ${DAY}T03:04:05.678Z; 1 rejected line, 3 unmetered requests.`,
    );
    expect(decode(state?.[3] ?? '')).toContain(
      '. Revision 2 restates an earlier report of this day (late events or a restatement); 1 rejected line: not in any figure; 3 unmetered requests: no capacity window covered them, charged 0.',
    );
    const clean = await dayPage(
      source({ [DAY]: { csv, metrics: metricsOf(DAY, 1, 0, 0) } }),
      DAY,
      new Date(),
    );
    expect(/<div class="(\w+)" id="report-state"/.exec(clean)?.[1]).toBe('state');
    expect(decode(clean)).toContain(
      'Revision 1, report generated 2026-11-12T03:04:05.678Z; 0 rejected lines, 0 unmetered requests.',
    );
  });

  it('says when there is no metrics file to tell the revision', async () => {
    const html = await dayPage(source({ [DAY]: { csv } }), DAY, new Date());
    expect(html).toMatch(/<div class="warn" id="report-state">No metrics file/);
  });

  it('shows retraining as retraining jobs, never as a feature', async () => {
    const html = await dayPage(source({ [DAY]: { csv, metrics: metricsOf(DAY, 1, 0, 0) } }), DAY, new Date());
    const features = rowsOf(html, 'cost-per-feature').map((cells) => cells[0]?.text);
    expect(features).not.toContain('llama-3.1-8b-instruct');
    expect(rowsOf(html, 'movers').map((cells) => cells[0]?.text)).not.toContain('llama-3.1-8b-instruct');
    expect(rowsOf(html, 'retraining')).toEqual([
      [
        { text: 'llama-3.1-8b-instruct' },
        { text: '1' },
        { text: '0.00' },
        { text: '$90.66', micros: 90_660_000n },
      ],
    ]);
    expect(/id="retraining-cost" data-micros="(\d+)"/.exec(html)?.[1]).toBe('90660000');
    expect(html).toContain('<tr id="tenant-retraining"><th>retraining jobs (tenant (retraining))</th>');
    expect(rowsOf(html, 'cost-per-tenant').map((cells) => cells[0]?.text)).not.toContain('(retraining)');
  });

  it('escapes hostile tenant and feature names: shown, never markup, never a bidirectional override', async () => {
    const html = await dayPage(source({ [DAY]: { csv, metrics: metricsOf(DAY, 1, 0, 0) } }), DAY, new Date());
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('\u202E');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;quoted&quot; &amp; &#39;single&#39;');
    expect(html).toContain('evil\\u202egnp.exe');
    const tenants = rowsOf(html, 'cost-per-tenant').map((cells) => cells[0]?.text);
    expect(tenants).toContain('__proto__');
    // As the CSV printed it: neutralised against spreadsheet formulas.
    expect(tenants).toContain("'=cmd|' /C calc'!A0");
  });
});

describe('the month page', () => {
  const NEXT = '2026-11-13';
  const second = csvOf(NEXT, [
    ['contoso', 'chat', 'llama-3.1-8b-instruct', 'interactive', 10, '1.000000'],
    ['northwind', 'search', 'llama-3.1-8b-instruct', 'interactive', 10, '2.000000'],
    ['(retraining)', 'mistral-7b', 'mistral-7b', 'retraining', 2, '10.000000'],
  ]);
  const month = (): Promise<string> =>
    monthlyReport({
      source: source({
        [DAY]: { csv, metrics: metricsOf(DAY, 2, 1, 0) },
        [NEXT]: { csv: second, metrics: metricsOf(NEXT, 1, 0, 4) },
      }),
      month: '2026-11',
      now: new Date('2026-12-01T01:00:00Z'),
    }).then((files) => files.html);

  it("shows each tenant's month and each tenant's features as the CSVs add up", async () => {
    const html = await month();
    const tenants = new Map(
      rowsOf(html, 'cost-per-tenant').map((cells) => [cells[0]?.text ?? '', cells[1]?.micros]),
    );
    expect(tenants).toEqual(sums([csv, second], (row) => row.tenant ?? ''));
    const pairs = new Map(
      rowsOf(html, 'tenant-feature').map((cells) => [
        JSON.stringify([cells[0]?.text, cells[1]?.text]),
        cells[2]?.micros,
      ]),
    );
    expect(pairs).toEqual(sums([csv, second], (row) => JSON.stringify([row.tenant, row.feature])));
  });

  it('shows retraining per model, the restated day, and the month’s rejected and unmetered', async () => {
    const html = await month();
    expect(
      rowsOf(html, 'retraining').map((cells) => [cells[0]?.text, cells[1]?.text, cells[3]?.micros]),
    ).toEqual([
      ['llama-3.1-8b-instruct', '1', 90_660_000n],
      ['mistral-7b', '2', 10_000_000n],
    ]);
    expect(rowsOf(html, 'cost-per-feature').map((cells) => cells[0]?.text)).not.toContain('mistral-7b');
    const state = /<div class="warn" id="report-state"([^>]*)>([\s\S]*?)<\/div>/.exec(html);
    expect(state?.[1]).toContain('data-rejected="1" data-unmetered="4"');
    expect(decode(state?.[2] ?? '')).toContain(`restated: ${DAY} (revision 2)`);
    expect(rowsOf(html, 'reconciliation').map((cells) => [cells[0]?.text, cells[1]?.text])).toEqual([
      [DAY, '2'],
      [NEXT, '1'],
    ]);
  });
});
