import { describe, expect, it } from 'vitest';
import { makeDailyChargeback } from '../../functions/dailyChargeback.js';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { makeReportDay } from '../../functions/reportDay.js';
import { makeRestate } from '../../functions/restate.js';
import { invoke } from '../../dev/event-hub-delivery.js';
import { HttpRequest, quietContext, TIMER } from '../../dev/functions-runtime.js';
import { MemoryDayQueue } from '../../src/adapters/memory/memory-day-queue.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { loadPriceCard, type PriceCard } from '../../src/domain/prices.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import { reportDayIfStale } from '../../src/usecases/daily/daily-run.js';
import { at, capacity, DAY, ONE_GPU, TEST_PRICES } from '../helpers/events.js';

function system(start: string) {
  let now = new Date(start);
  const ledger = new MemoryLedger();
  const reports = new MemoryReportStore();
  const dayQueue = new MemoryDayQueue();
  const clock = () => now;
  let prices: PriceCard = TEST_PRICES;
  const deps = () => ({
    ledger,
    reports,
    prices,
    now: clock,
    idle: 'separate' as const,
    weighting: DEFAULT_WEIGHTING,
    restateDays: 35,
  });
  const daily = makeDailyChargeback(() => Promise.resolve({ ...deps(), priceSkus: [ONE_GPU], dayQueue }));
  const reportDay = makeReportDay(() => Promise.resolve(deps()));
  const restate = makeRestate(() => Promise.resolve({ ledger, dayQueue, now: clock }));
  return {
    ledger,
    reports,
    dayQueue,
    deps,
    setNow: (iso: string) => {
      now = new Date(iso);
    },
    setPrices: (card: PriceCard) => {
      prices = card;
    },
    send: (bodies: unknown[]) =>
      invoke(
        makeIngestUsage(() => Promise.resolve({ ledger, prices, now: clock, retryDeadlineMs: 0 })),
        '0',
        bodies.map((body, i) => ({ body, sequenceNumber: i, enqueuedTime: at(3600) })),
      ),
    timer: () => daily(TIMER, quietContext()),
    /** Delivers every queued message, as the host would. */
    work: async () => {
      for (const message of dayQueue.take()) await reportDay(message, quietContext());
    },
    post: (query: Record<string, string>, body?: string) =>
      restate(
        new HttpRequest({
          method: 'POST',
          url: `http://localhost/api/ops/restate?${new URLSearchParams(query).toString()}`,
          ...(body === undefined ? {} : { body: { string: body } }),
        }),
        quietContext(),
      ),
    summary: async (day = DAY) => JSON.parse((await reports.summary(day)) ?? '{}') as Record<string, unknown>,
  };
}

const doubled = loadPriceCard({
  currency: 'USD',
  skus: [
    { sku: ONE_GPU, gpusPerVm: 1, pricePerVmHour: 3.6, effectiveFrom: '2026-01-01T00:00:00Z' },
    { sku: ONE_GPU, gpusPerVm: 1, pricePerVmHour: 7.2, effectiveFrom: '2026-11-20T00:00:00Z' },
  ],
});

async function reported() {
  const s = system('2026-11-23T00:10:00Z');
  await s.send([capacity({ windowStart: at(0), windowEnd: at(60) })]);
  s.setNow('2026-11-23T00:30:00Z');
  await s.timer();
  await s.work();
  return s;
}

describe('restating a day', () => {
  it('keeps the revision and every byte when the ledger has not changed', async () => {
    const s = await reported();
    const before = [await s.reports.csv(DAY), await s.reports.summary(DAY)];
    s.setNow('2026-11-23T09:00:00Z');
    expect((await s.post({ date: DAY })).status).toBe(202);
    await s.work();
    expect([await s.reports.csv(DAY), await s.reports.summary(DAY)]).toEqual(before);
    expect((await s.reports.info(DAY))?.ledgerAsOf).toBe('2026-11-23T09:00:00.000Z');
  });

  it('skips a queued day whose report is newer than its last commit', async () => {
    const s = await reported();
    s.setNow('2026-11-24T00:30:00Z');
    expect(await reportDayIfStale(DAY, s.deps())).toBe('current');
  });

  it('restates the reported days a price card correction affects, as the next revision', async () => {
    const s = await reported();
    expect(await s.summary()).toMatchObject({ revision: 1, fleetCostUsd: 0.06 });
    s.setPrices(doubled);
    s.setNow('2026-11-24T00:30:00Z');
    await s.timer();
    expect(s.dayQueue.pending.map((m) => [m.day, m.reason])).toEqual([
      [DAY, 'price-change'],
      ['2026-11-23', 'yesterday'],
    ]);
    await s.work();
    expect(await s.summary()).toMatchObject({ revision: 2, fleetCostUsd: 0.12 });
  });
});

describe('POST /api/ops/restate', () => {
  it('marks the days of a range dirty, queues one message each and answers 202 with them', async () => {
    const s = system('2026-11-23T09:00:00Z');
    const response = await s.post({ date: '2026-11-20', to: '2026-11-22' });
    expect(response.status).toBe(202);
    expect(response.jsonBody).toEqual({
      queued: ['2026-11-20', '2026-11-21', '2026-11-22'],
      requestedAt: '2026-11-23T09:00:00.000Z',
    });
    expect(s.dayQueue.pending.map((m) => `${m.day} ${m.reason}`)).toEqual([
      '2026-11-20 on-demand',
      '2026-11-21 on-demand',
      '2026-11-22 on-demand',
    ]);
    expect((await s.ledger.dirtyDays('2026-11-01')).map((d) => d.day)).toEqual([
      '2026-11-20',
      '2026-11-21',
      '2026-11-22',
    ]);
  });

  it('takes the days from a JSON body as well', async () => {
    const s = system('2026-11-23T09:00:00Z');
    const response = await s.post({}, JSON.stringify({ date: '2026-11-21' }));
    expect(response.jsonBody).toMatchObject({ queued: ['2026-11-21'] });
  });

  it('passes refit on to the queued days, from the query or the body, and not otherwise', async () => {
    const s = system('2026-11-23T09:00:00Z');
    expect((await s.post({ date: '2026-11-21', refit: 'true' })).status).toBe(202);
    expect((await s.post({}, JSON.stringify({ date: '2026-11-22', refit: true }))).status).toBe(202);
    expect((await s.post({ date: '2026-11-20', refit: 'false' })).status).toBe(202);
    expect(s.dayQueue.pending.map((m) => [m.day, m.refit])).toEqual([
      ['2026-11-21', true],
      ['2026-11-22', true],
      ['2026-11-20', undefined],
    ]);
  });

  it.each([
    [{ date: '2026-11-21', refit: 'yes' }, undefined, /refit must be true or false/],
    [{}, JSON.stringify({ date: '2026-11-21', refit: 'true' }), /refit must be true or false/],
    [{}, undefined, /give the day/],
    [{ date: '2026-13-01' }, undefined, /calendar day/],
    [{ date: '2026-11-23' }, undefined, /not over yet/],
    [{ date: '2026-11-20', to: '2026-11-19' }, undefined, /before/],
    [{ date: '2025-01-01', to: '2026-11-20' }, undefined, /at most 400 days/],
    [{}, '{not json', /must be JSON/],
  ])('answers 400 with the reason, and queues nothing, for %j %s', async (query, body, reason) => {
    const s = system('2026-11-23T09:00:00Z');
    const response = await s.post(query, body);
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.jsonBody)).toMatch(reason);
    expect(s.dayQueue.pending).toEqual([]);
    expect(await s.ledger.dirtyDays('2000-01-01')).toEqual([]);
  });
});
