import { describe, expect, it } from 'vitest';
import { makeDailyChargeback } from '../../functions/dailyChargeback.js';
import { makeGetReport } from '../../functions/getReport.js';
import { makeMonthlyChargeback } from '../../functions/monthlyChargeback.js';
import { makeReportDay } from '../../functions/reportDay.js';
import { invoke, type HubMessage } from '../../dev/event-hub-delivery.js';
import { HttpRequest, quietContext, TIMER } from '../../dev/functions-runtime.js';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { MemoryDayQueue } from '../../src/adapters/memory/memory-day-queue.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import { monthlyPaths } from '../../src/ports/report-store.js';
import { capacity, TEST_PRICES, usage } from '../helpers/events.js';

/** A Function App in memory: ingest, the daily and monthly timers, the day queue, the report route. */
function app(start: string) {
  let now = new Date(start);
  const clock = () => now;
  const ledger = new MemoryLedger();
  const reports = new MemoryReportStore();
  const dayQueue = new MemoryDayQueue();
  const deps = {
    ledger,
    reports,
    prices: TEST_PRICES,
    now: clock,
    idle: 'separate' as const,
    weighting: DEFAULT_WEIGHTING,
    restateDays: 35,
  };
  const ingest = makeIngestUsage(() =>
    Promise.resolve({ ledger, prices: TEST_PRICES, now: clock, retryDeadlineMs: 0 }),
  );
  const daily = makeDailyChargeback(() => Promise.resolve({ ...deps, priceSkus: [], dayQueue }));
  const reportDay = makeReportDay(() => Promise.resolve(deps));
  const monthly = makeMonthlyChargeback(() => Promise.resolve({ reports, now: clock }));
  const getReport = makeGetReport(() => Promise.resolve({ reports }));
  let sequence = 0;
  return {
    reports,
    at: (iso: string) => {
      now = new Date(iso);
    },
    /** One pod busy for `seconds` at noon of `day`. */
    serve: async (day: string, seconds: number) => {
      const t = (s: number): string => new Date(Date.parse(`${day}T12:00:00Z`) + s * 1000).toISOString();
      const batch: HubMessage[] = [
        capacity({ windowStart: t(0), windowEnd: t(60) }),
        usage({ startedAt: t(0), firstTokenAt: t(1), finishedAt: t(seconds) }),
      ].map((body) => ({ body, sequenceNumber: sequence++, enqueuedTime: t(60) }));
      await invoke(ingest, '0', batch);
    },
    runDaily: async () => {
      await daily(TIMER, quietContext());
      for (const message of dayQueue.take()) await reportDay(message, quietContext());
    },
    runMonthly: () => monthly(TIMER, quietContext()),
    get: (date: string, accept: string) =>
      getReport(
        new HttpRequest({
          method: 'GET',
          url: `http://localhost/api/reports/${date}`,
          params: { date },
          headers: { accept },
        }),
        quietContext(),
      ),
  };
}

describe('the monthly report in the Function App', () => {
  it('writes the month just ended on the 1st, and serves its CSV, summary and page', async () => {
    const a = app('2026-10-30T12:00:00Z');
    await a.serve('2026-10-30', 30);
    a.at('2026-10-31T00:30:00Z');
    await a.runDaily();
    await a.serve('2026-10-31', 45);
    a.at('2026-11-01T00:30:00Z');
    await a.runDaily();
    a.at('2026-11-01T01:00:00Z');
    await a.runMonthly();
    const csv = a.reports.files.get(monthlyPaths('2026-10').csv) ?? '';
    // Two days of one tenant: requests and days add up; every other October day is named missing.
    expect(csv.split('\r\n')[0]).toMatch(/^month,tenant,feature,model,requestClass,days,requests,/);
    expect(csv).toMatch(/\r\n2026-10,acme,chat,[^,]+,interactive,2,2,/);
    const summary = JSON.parse(a.reports.files.get(monthlyPaths('2026-10').summary) ?? '{}') as {
      daysReported: string[];
      daysMissing: string[];
    };
    expect(summary.daysReported).toEqual(['2026-10-30', '2026-10-31']);
    expect(summary.daysMissing).toHaveLength(29);
    const page = await a.get('2026-10', 'text/html,application/xhtml+xml,*/*;q=0.8');
    expect(page.status).toBe(200);
    expect(page.body as string).toContain('<h1>GPU chargeback, 2026-10</h1>');
    expect((page.headers as Record<string, string>)['content-security-policy']).toContain(
      "default-src 'none'",
    );
    expect((await a.get('2026-10', 'text/csv')).body as string).toBe(csv);
    expect(JSON.parse((await a.get('2026-10', 'application/json')).body as string)).toMatchObject({
      month: '2026-10',
    });
    expect((await a.get('2026-09', 'text/html')).status).toBe(404);
    expect((await a.get('2026-13', 'text/html')).status).toBe(400);
  });

  it('serves the day page to a browser, and writes a closed month again when one of its days is restated', async () => {
    const a = app('2026-10-31T12:00:00Z');
    await a.serve('2026-10-31', 30);
    a.at('2026-11-01T00:30:00Z');
    await a.runDaily();
    a.at('2026-11-01T01:00:00Z');
    await a.runMonthly();
    const before = a.reports.files.get(monthlyPaths('2026-10').csv) ?? '';
    expect((await a.get('2026-10-31', 'text/html')).status).toBe(200);
    // A late request for October 31st arrives on November 3rd: the day is restated, and the month with it.
    await a.serve('2026-10-31', 50);
    a.at('2026-11-03T00:30:00Z');
    await a.runDaily();
    const after = a.reports.files.get(monthlyPaths('2026-10').csv) ?? '';
    expect(after).not.toBe(before);
    expect(after).toMatch(/\r\n2026-10,acme,chat,[^,]+,interactive,1,2,/);
  });
});
