import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../../src/adapters/memory/memory-ledger.js';
import { MemoryReportStore } from '../../../src/adapters/memory/memory-report-store.js';
import { readPriceCard } from '../../../src/composition/files.js';
import type { RetrainingRun } from '../../../src/domain/retrain/charge.js';
import { DEFAULT_WEIGHTING } from '../../../src/domain/weighting.js';
import { reportDay, type DailyDeps } from '../../../src/usecases/daily/daily-run.js';
import { ingestBatch } from '../../../src/usecases/ingest/ingest.js';
import { at, capacity, DAY, DAY_AFTER, usage } from '../../helpers/events.js';

const prices = readPriceCard('prices/azure-a100.json');
const us = (offsetSeconds: number) => Date.parse(at(offsetSeconds)) * 1000;

/** 2 nodes × 4 GPUs of Standard_NC96ads_A100_v4 from 22:00 to 02:00 the next day. */
const RUN: RetrainingRun = {
  name: 'retrain-llama-abc',
  model: 'llama-8b',
  status: 'Completed',
  gpuSku: 'Standard_NC96ads_A100_v4',
  gpuCount: 8,
  startUs: us(22 * 3600),
  endUs: us(26 * 3600),
};

async function report(runs: readonly RetrainingRun[]) {
  const ledger = new MemoryLedger();
  await ingestBatch(
    [capacity(), usage()].map((body, i) => ({
      body,
      partition: '0',
      sequenceNumber: i,
      enqueuedTime: at(10),
    })),
    { ledger, prices, now: () => new Date(`${DAY_AFTER}T00:00:00Z`) },
  );
  const reports = new MemoryReportStore();
  const deps: DailyDeps = {
    ledger,
    reports,
    prices,
    now: () => new Date(`${DAY_AFTER}T03:00:00Z`),
    idle: 'separate',
    weighting: DEFAULT_WEIGHTING,
    restateDays: 35,
    retrainingRuns: () => Promise.resolve(runs),
  };
  await reportDay(DAY, deps);
  const rows = Papa.parse<Record<string, string>>((await reports.csv(DAY)) ?? '', {
    header: true,
    skipEmptyLines: true,
  }).data;
  const summary = JSON.parse((await reports.summary(DAY)) ?? '{}') as Record<string, string | number>;
  return { rows, summary };
}

describe('a retraining job in the daily chargeback', () => {
  it("shows as tenant (retraining), feature = the model, with the day's part of its GPU-time", async () => {
    const { rows } = await report([RUN]);
    const row = rows.find((r) => r.tenant === '(retraining)');
    // 2 of its 4 hours fall on the day: 8 GPUs × 7,200 s at $14.692 / 4 GPUs / 3,600 s.
    expect(row).toMatchObject({ feature: 'llama-8b', model: 'llama-8b', requestClass: 'retraining' });
    expect(row?.gpuSeconds).toBe('57600.000');
    expect(row?.costUsd).toBe('58.768000');
  });

  it('keeps the day closed: allocated + idle = fleet, retraining included', async () => {
    const without = (await report([])).summary;
    const { summary, rows } = await report([RUN]);
    expect(Number(summary.fleetCostUsd)).toBeCloseTo(Number(without.fleetCostUsd) + 58.768, 6);
    const sum = rows.reduce((total, r) => total + Number(r.costUsd), 0);
    expect(sum).toBeCloseTo(Number(summary.fleetCostUsd), 2);
  });

  it('does not count the job as an event read', async () => {
    const without = (await report([])).summary;
    expect((await report([RUN])).summary.eventsRead).toBe(without.eventsRead);
  });
});
