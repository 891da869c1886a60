import { describe, expect, it } from 'vitest';
import { makeDailyChargeback } from '../../functions/dailyChargeback.js';
import { makeGetReport } from '../../functions/getReport.js';
import { makeReportDay } from '../../functions/reportDay.js';
import { MemoryDayQueue } from '../../src/adapters/memory/memory-day-queue.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { invoke, type HubMessage } from '../../dev/event-hub-delivery.js';
import { HttpRequest, quietContext, TIMER } from '../../dev/functions-runtime.js';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { reportPaths } from '../../src/ports/report-store.js';
import { parseMetrics } from '../../src/domain/metrics/build.js';
import { reportDay as computeDay } from '../../src/usecases/daily/daily-run.js';
import { at, capacity, DAY, TEST_PRICES, usage } from '../helpers/events.js';

function system(start: string) {
  let now = new Date(start);
  const ledger = new MemoryLedger();
  const reports = new MemoryReportStore();
  const clock = () => now;
  const ingest = makeIngestUsage(() =>
    Promise.resolve({ ledger, prices: TEST_PRICES, now: clock, retryDeadlineMs: 0 }),
  );
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
  const daily = makeDailyChargeback(() => Promise.resolve({ ...deps, priceSkus: [], dayQueue }));
  const reportDay = makeReportDay(() => Promise.resolve(deps));
  const getReport = makeGetReport(() => Promise.resolve({ reports }));
  let sequence = 0;
  return {
    reports,
    deps,
    setNow: (iso: string) => {
      now = new Date(iso);
    },
    send: async (bodies: unknown[]) => {
      const batch: HubMessage[] = bodies.map((body) => ({
        body,
        sequenceNumber: sequence++,
        enqueuedTime: at(3600),
      }));
      await invoke(ingest, '0', batch);
    },
    /** The timer, then every day it queued, as the host would deliver them. */
    runDaily: async () => {
      await daily(TIMER, quietContext());
      for (const message of dayQueue.take()) await reportDay(message, quietContext());
    },
    get: (date: string, accept = 'text/csv', query = '') =>
      getReport(
        new HttpRequest({
          method: 'GET',
          url: `http://localhost/api/reports/${date}${query}`,
          params: { date },
          headers: { accept },
        }),
        quietContext(),
      ),
    summary: (day = DAY) =>
      JSON.parse(reports.files.get(reportPaths(day).summary) ?? '{}') as Record<string, number>,
  };
}

describe('dailyChargeback', () => {
  it('reports yesterday at 00:30 into reports/chargeback/YYYY/MM/DD/', async () => {
    const s = system('2026-11-23T00:30:00Z');
    await s.send([
      capacity({ windowStart: at(0), windowEnd: at(60) }),
      usage({ startedAt: at(10), finishedAt: at(20) }),
    ]);
    await s.runDaily();
    expect([...s.reports.files.keys()].sort()).toEqual([
      'chargeback/2026/11/22/chargeback-2026-11-22.csv',
      'chargeback/2026/11/22/focus-2026-11-22.csv',
      'chargeback/2026/11/22/metrics-2026-11-22.json',
      'chargeback/2026/11/22/report-2026-11-22.html',
      'chargeback/2026/11/22/requests-2026-11-22.index.json',
      'chargeback/2026/11/22/summary-2026-11-22.json',
    ]);
    expect([...s.reports.bytes.keys()]).toEqual(['chargeback/2026/11/22/requests-2026-11-22.ndjson.gz']);
    // The day's page shows the day's fleet cost, as the summary states it.
    const page = s.reports.files.get('chargeback/2026/11/22/report-2026-11-22.html') ?? '';
    expect(page).toContain('<h1>GPU chargeback, 2026-11-22</h1>');
    expect(page).toMatch(/id="fleet-cost" data-micros="60000">\$0\.06</);
    expect(s.summary()).toMatchObject({ revision: 1, fleetCostUsd: 0.06, usageEvents: 1, capacityEvents: 1 });
  });

  it('writes the day’s metrics with the summary’s revision, and restates them with it', async () => {
    const s = system('2026-11-23T00:30:00Z');
    await s.send([
      capacity({ windowStart: at(0), windowEnd: at(60) }),
      usage({ startedAt: at(10), finishedAt: at(20) }),
    ]);
    await s.runDaily();
    const first = parseMetrics((await s.reports.metrics(DAY)) ?? '');
    expect(first).toMatchObject({ revision: 1, generatedAt: '2026-11-23T00:30:00.000Z' });
    expect(first.groups.map((g) => [g.tenant, g.requests])).toEqual([['acme', 1]]);
    s.setNow('2026-11-23T09:00:00Z');
    await s.send([usage({ tenant: 'late', startedAt: at(30), finishedAt: at(40) })]);
    await s.runDaily();
    const restated = parseMetrics((await s.reports.metrics(DAY)) ?? '');
    expect(restated.revision).toBe(s.summary().revision);
    expect(restated.revision).toBe(2);
    expect(restated.groups.map((g) => [g.tenant, g.requests])).toEqual([
      ['acme', 1],
      ['late', 1],
    ]);
  });

  it('gives a day reported before the metrics existed its metrics when it is computed again unchanged', async () => {
    const s = system('2026-11-23T00:30:00Z');
    await s.send([
      capacity({ windowStart: at(0), windowEnd: at(60) }),
      usage({ startedAt: at(10), finishedAt: at(20) }),
    ]);
    await s.runDaily();
    s.reports.files.delete(reportPaths(DAY).metrics);
    expect((await computeDay(DAY, s.deps)).unchanged).toBe(true);
    expect(parseMetrics((await s.reports.metrics(DAY)) ?? '')).toMatchObject({
      revision: 1,
      generatedAt: '2026-11-23T00:30:00.000Z',
    });
  });

  it('restates a day that received late events as the next revision, with the late cost in it', async () => {
    const s = system('2026-11-23T00:30:00Z');
    await s.send([capacity({ windowStart: at(0), windowEnd: at(60) })]);
    await s.runDaily();
    s.setNow('2026-11-23T09:00:00Z');
    await s.send([capacity({ pod: 'pod-b', windowStart: at(0), windowEnd: at(60) })]);
    s.setNow('2026-11-24T00:30:00Z');
    await s.runDaily();
    expect(s.summary()).toMatchObject({ revision: 2, fleetCostUsd: 0.12, capacityEvents: 2 });
  });

  it('leaves a reported day alone when nothing arrived for it since', async () => {
    const s = system('2026-11-22T18:00:00Z');
    await s.send([capacity({ windowStart: at(0), windowEnd: at(60) })]);
    s.setNow('2026-11-23T00:30:00Z');
    await s.runDaily();
    s.setNow('2026-11-24T00:30:00Z');
    await s.runDaily();
    expect(s.summary().revision).toBe(1);
  });

  it('counts messages rejected at ingestion as read and rejected on their day', async () => {
    const s = system('2026-11-23T00:30:00Z');
    await s.send([
      capacity({ windowStart: at(0), windowEnd: at(60) }),
      '{broken',
      usage({ promptTokens: 'x' }),
    ]);
    await s.runDaily();
    expect(s.summary()).toMatchObject({ eventsRead: 3, capacityEvents: 1, rejected: 2 });
  });
});

describe('GET /api/reports/{date}', () => {
  it('returns the CSV, or the summary when JSON is asked for', async () => {
    const s = system('2026-11-23T00:30:00Z');
    await s.send([capacity({ windowStart: at(0), windowEnd: at(60) })]);
    await s.runDaily();
    const csv = await s.get(DAY);
    expect(csv.status).toBe(200);
    expect(csv.body as string).toMatch(/^date,tenant,feature,/);
    expect((csv.headers as Record<string, string>)['content-type']).toMatch(/^text\/csv/);
    const json = await s.get(DAY, 'application/json');
    expect(JSON.parse(json.body as string)).toMatchObject({ date: DAY, revision: 1 });
  });

  it('returns the day in the FOCUS format with ?format=focus, and refuses another format', async () => {
    const s = system('2026-11-23T00:30:00Z');
    await s.send([capacity({ windowStart: at(0), windowEnd: at(60) }), usage()]);
    await s.runDaily();
    const focus = await s.get(DAY, 'text/csv', '?format=focus');
    expect(focus.status).toBe(200);
    expect(focus.body as string).toBe(s.reports.files.get(reportPaths(DAY).focus));
    expect(focus.body as string).toMatch(/BilledCost/);
    expect((focus.headers as Record<string, string>)['content-disposition']).toContain(`focus-${DAY}.csv`);
    const bad = await s.get(DAY, 'text/csv', '?format=parquet');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.jsonBody)).toContain('parquet');
  });

  it('answers 404 naming the date when there is no report', async () => {
    const response = await system('2026-11-23T00:30:00Z').get('2026-11-20');
    expect(response.status).toBe(404);
    expect(JSON.stringify(response.jsonBody)).toContain('2026-11-20');
  });

  it('answers 400 for a malformed date', async () => {
    const s = system('2026-11-23T00:30:00Z');
    for (const date of ['2026-13-01', '22-11-2026', '../../etc/passwd']) {
      expect((await s.get(date)).status).toBe(400);
    }
  });
});
