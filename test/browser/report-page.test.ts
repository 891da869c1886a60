import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../../scripts/chromium.js';
import { decimal } from '../../src/domain/monthly/daily-rows.js';
import { runMain } from '../helpers/cli.js';

/**
 * The monthly page as a reader meets it: opened in headless Chromium (Debian's, see
 * scripts/chromium.ts) from a file, with every request the page makes recorded. It must make none
 * but its own, log no error, and show the figures the CSVs hold.
 */
let browser: Browser;
let dir: string;
const DAYS = ['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02', '2026-11-04'];

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  dir = mkdtempSync(join(tmpdir(), 'report-page-'));
  for (const [i, date] of DAYS.entries()) {
    const events = join(dir, `${date}.ndjson`);
    const simulate = [
      'simulate',
      '--date',
      date,
      '--out',
      events,
      '--pods',
      '3',
      '--requests',
      '4000',
      '--seed',
      String(i + 1),
    ];
    expect((await runMain(simulate)).code).toBe(0);
    const report = [
      'report',
      '--events',
      events,
      '--prices',
      'prices/azure-a100.json',
      '--date',
      date,
      '--out',
      join(dir, 'reports'),
    ];
    expect((await runMain(report)).code).toBe(0);
  }
  const monthly = await runMain([
    'monthly',
    '--reports',
    join(dir, 'reports'),
    '--month',
    '2026-11',
    '--out',
    join(dir, 'month'),
  ]);
  expect(monthly.code, monthly.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await browser.close();
});

describe('the monthly report page in Chromium', () => {
  it('loads with no console error and no request to anywhere', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    const url = `file://${join(dir, 'month', 'report-2026-11.html')}`;
    await page.goto(url);
    expect(requests).toEqual([url]);
    expect(errors).toEqual([]);
    expect(await page.locator('svg.chart').count()).toBeGreaterThanOrEqual(3);
    const shot = await page.screenshot({ fullPage: true });
    expect(shot.length).toBeGreaterThan(10_000);
    await page.close();
  });

  it('shows the figures of the daily CSVs: the fleet, each feature, and the missing days', async () => {
    const page = await browser.newPage();
    await page.goto(`file://${join(dir, 'month', 'report-2026-11.html')}`);
    let fleet = 0n;
    const byFeature = new Map<string, bigint>();
    for (const date of DAYS.filter((d) => d.startsWith('2026-11'))) {
      const rows = Papa.parse<Record<string, string>>(
        readFileSync(join(dir, 'reports', `chargeback-${date}.csv`), 'utf8'),
        {
          header: true,
          skipEmptyLines: true,
        },
      ).data;
      for (const row of rows) {
        const cost = decimal(row.costUsd ?? '', 6, 'cost');
        fleet += cost;
        if (row.tenant !== '(idle)')
          byFeature.set(row.feature ?? '', (byFeature.get(row.feature ?? '') ?? 0n) + cost);
      }
    }
    expect(await page.locator('#fleet-cost').getAttribute('data-micros')).toBe(fleet.toString());
    const shown = new Map<string, bigint>();
    for (const row of await page.locator('#cost-per-feature tbody tr').all()) {
      const cells = row.locator('td');
      shown.set(
        (await cells.nth(0).textContent()) ?? '',
        BigInt((await cells.nth(1).getAttribute('data-micros')) ?? '-1'),
      );
    }
    expect(shown).toEqual(byFeature);
    // 2026-11-03 and every day after the 4th are named; October's days are only the movers' basis.
    const missing = (await page.locator('#missing-days').textContent()) ?? '';
    expect(missing).toContain('2026-11-03');
    expect(missing).toContain('2026-11-30');
    expect(missing).not.toContain('2026-11-01');
    expect(await page.locator('#movers p').textContent()).toContain('against 2026-10');
    await page.close();
  });
});
