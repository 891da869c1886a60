import { describe, expect, it } from 'vitest';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { makeReportDay } from '../../functions/reportDay.js';
import { invoke, type HubMessage } from '../../dev/event-hub-delivery.js';
import { InvocationContext } from '../../dev/functions-runtime.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import { reportDay as computeDay } from '../../src/usecases/daily/daily-run.js';
import { at, capacity, DAY, TEST_PRICES, usage } from '../helpers/events.js';

// contracts.md §6, as the daily run sees it: a day with input and nothing billable is logged as an error.
const NOW = new Date('2026-11-23T00:31:00Z');

async function dayOf(bodies: readonly unknown[]) {
  const ledger = new MemoryLedger();
  const ingest = makeIngestUsage(() =>
    Promise.resolve({ ledger, prices: TEST_PRICES, now: () => NOW, retryDeadlineMs: 0 }),
  );
  const batch: HubMessage[] = bodies.map((body, i) => ({ body, sequenceNumber: i, enqueuedTime: at(3600) }));
  await invoke(ingest, '0', batch);
  const deps = {
    ledger,
    reports: new MemoryReportStore(),
    prices: TEST_PRICES,
    now: () => NOW,
    idle: 'separate' as const,
    weighting: DEFAULT_WEIGHTING,
    restateDays: 35,
  };
  const logs: string[] = [];
  const context = new InvocationContext({
    functionName: 'reportDay',
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  await makeReportDay(() => Promise.resolve(deps))(
    JSON.stringify({ day: DAY, reason: 'yesterday', requestedAt: NOW.toISOString() }),
    context,
  );
  return { deps, errors: logs.filter((line) => line.startsWith('error: ')) };
}

describe('reportDay on a day with input and nothing billable', () => {
  it('logs an error naming the day and the requests when every request is unmetered', async () => {
    const { errors } = await dayOf([usage(), usage({ pod: 'pod-b' })]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`reportDay: ${DAY}: nothing billable: ${DAY}: 2 request(s) finished`);
    expect(errors[0]).toContain('2 of them unmetered');
    expect(errors[0]).toContain('read 2 event(s)');
  });

  it('logs an error naming the dead letters when ingestion rejected every event of the day', async () => {
    const { errors } = await dayOf([usage({ gpuSku: 'NOT_ON_THE_CARD' }), capacity({ gpuSku: 'NOPE' })]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('read 2 event(s)');
    expect(errors[0]).toContain(
      `2 rejected (2 × rejected at ingestion (reasons in the ledger's deadletter/${DAY}/))`,
    );
  });

  it('still stores the day’s report: it is what the ledger holds', async () => {
    const { deps } = await dayOf([usage()]);
    expect(await deps.reports.info(DAY)).toMatchObject({ revision: 1 });
  });

  it('logs no error for a day with billable capacity', async () => {
    const { errors } = await dayOf([capacity({ windowStart: at(0), windowEnd: at(60) }), usage()]);
    expect(errors).toEqual([]);
  });

  it('logs no error for a day with no input at all', async () => {
    expect((await dayOf([])).errors).toEqual([]);
  });

  it('says so again when the day is computed again and comes out unchanged', async () => {
    const { deps } = await dayOf([usage()]);
    const again = await computeDay(DAY, deps);
    expect(again.unchanged).toBe(true);
    expect(again.nothingBillable).toContain('1 of them unmetered');
  });
});
