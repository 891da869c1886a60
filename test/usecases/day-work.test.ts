import { describe, expect, it } from 'vitest';
import { readPriceCard } from '../../src/composition/files.js';
import { reportDay, type DailyDeps } from '../../src/usecases/daily/daily-run.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import { ingestBatch } from '../../src/usecases/ingest/ingest.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { MemoryFanOutStore, MemoryWorkQueue } from '../../src/adapters/memory/memory-fan-out.js';
import { MemoryRunStorage } from '../../src/adapters/memory/memory-run-storage.js';
import { temporaryRunSpace } from '../../src/adapters/files/temp-run-space.js';
import { handleFanOutMessage, startJob, type FanOutDeps } from '../../src/usecases/fan-out/fan-out.js';
import type { FanOutMessage } from '../../src/ports/fan-out.js';
import { dayWork, startDay } from '../../src/usecases/day/day-work.js';
import { fleetTraffic } from '../../dev/fleet-traffic.js';
import { DAY, DAY_AFTER } from '../helpers/events.js';

const prices = readPriceCard('prices/azure-a100.json');
const now = () => new Date(`${DAY_AFTER}T00:30:00Z`);

function deps(ledger: MemoryLedger, reports: MemoryReportStore): DailyDeps {
  return {
    ledger,
    reports,
    prices,
    now,
    idle: 'separate',
    weighting: DEFAULT_WEIGHTING,
    restateDays: 35,
    // Small units, so that partitions are cut by pod on local disk as a large day's are.
    unitEvents: 500,
    runSpace: () => temporaryRunSpace(),
  };
}

async function reportFiles(reports: MemoryReportStore) {
  const requests = await reports.requests(DAY);
  const index = await requests?.index();
  return {
    csv: await reports.csv(DAY),
    summary: await reports.summary(DAY),
    metrics: await reports.metrics(DAY),
    requestsIndex: JSON.stringify(index),
    requests: Buffer.from((await requests?.range(0, 1 << 30)) ?? []).toString('base64'),
  };
}

/** The day in one process, as the single-instance Function reports it. */
async function inOneProcess(ledger: MemoryLedger, extra: Partial<DailyDeps> = {}) {
  const reports = new MemoryReportStore();
  await reportDay(DAY, { ...deps(ledger, reports), ...extra });
  return reportFiles(reports);
}

/** The day fanned out, every message delivered `deliveries` times. */
async function fannedOut(ledger: MemoryLedger, deliveries = 1, extra: Partial<DailyDeps> = {}) {
  const reports = new MemoryReportStore();
  const clock = now;
  const queue = new MemoryWorkQueue(clock);
  const fanOut: FanOutDeps = { store: new MemoryFanOutStore(), queue, clock, leaseMs: 0 };
  const storages = new Map<string, MemoryRunStorage>();
  const d = { ...deps(ledger, reports), ...extra };
  const work = dayWork({
    ...d,
    runStorageFor: (job) => {
      const found = storages.get(job) ?? new MemoryRunStorage(1000);
      storages.set(job, found);
      return found;
    },
    space: () => temporaryRunSpace(),
  });
  const log = { log: () => undefined, warn: () => undefined, error: () => undefined };
  const started = await startDay(DAY, d, (job, plan, units) => startJob(fanOut, job, plan, units));
  const rounds = new Set<number>();
  for (let i = 0; i < 100 && queue.pending.length > 0; i += 1) {
    const batch: FanOutMessage[] = queue.take();
    for (const m of batch) {
      rounds.add(m.round);
      for (let k = 0; k < deliveries; k += 1) await handleFanOutMessage(fanOut, work, m, log);
    }
  }
  const job = 'job' in started ? started.job : '';
  return { files: await reportFiles(reports), rounds, outcome: await fanOut.store.outcome(job) };
}

async function ledgerOf(options: { pods: number; partitions: number; seed: number; requests: number }) {
  const ledger = new MemoryLedger();
  const traffic = fleetTraffic({ date: DAY, duplicateRate: 0.02, ...options });
  for (const [p, messages] of traffic.hub.partitions.entries())
    await ingestBatch(
      messages.map((m) => ({ ...m, partition: String(p) })),
      { ledger, prices, now },
    );
  return { ledger, traffic };
}

describe('the day fanned out', () => {
  it('gives the bytes of the day in one process, units cut by pod', async () => {
    const { ledger } = await ledgerOf({ pods: 6, partitions: 3, seed: 8, requests: 3000 });
    const reference = await inOneProcess(ledger);
    const { files, rounds, outcome } = await fannedOut(ledger);
    expect(files).toEqual(reference);
    expect(reference.csv?.length).toBeGreaterThan(100);
    expect(reference.requests.length).toBeGreaterThan(1000);
    expect([...rounds]).toEqual([0]);
    expect(outcome).toMatchObject({ day: DAY, revision: 1 });
  });

  it('gives the same bytes with every message delivered twice', async () => {
    const { ledger } = await ledgerOf({ pods: 4, partitions: 2, seed: 11, requests: 1000 });
    const reference = await inOneProcess(ledger);
    expect((await fannedOut(ledger, 2)).files).toEqual(reference);
  });

  it('computes again as one the partitions a pod spans, in a second round', async () => {
    const ledger = new MemoryLedger();
    const traffic = fleetTraffic({
      date: DAY,
      pods: 2,
      seed: 9,
      requests: 500,
      duplicateRate: 0,
      partitions: 1,
    });
    const messages = traffic.hub.partitions[0] ?? [];
    const byType = (type: string) => messages.filter((m) => (m.body as { type?: string }).type === type);
    // Capacity windows in one partition, requests in another: as after a change of partition count.
    await ingestBatch(
      byType('capacity').map((m) => ({ ...m, partition: '0' })),
      { ledger, prices, now },
    );
    await ingestBatch(
      byType('usage').map((m) => ({ ...m, partition: '1' })),
      { ledger, prices, now },
    );
    const other = fleetTraffic({
      date: DAY,
      pods: 2,
      seed: 12,
      requests: 300,
      duplicateRate: 0,
      partitions: 1,
    });
    await ingestBatch(
      (other.hub.partitions[0] ?? []).map((m) => ({
        ...m,
        partition: '2',
        body: { ...(m.body as object), pod: `other-${String((m.body as { pod?: string }).pod)}` },
      })),
      { ledger, prices, now },
    );
    const reference = await inOneProcess(ledger);
    const { files, rounds } = await fannedOut(ledger, 2);
    expect([...rounds].sort()).toEqual([0, 1]);
    expect(files).toEqual(reference);
  });

  it('keeps an unchanged day without starting a job', async () => {
    const { ledger } = await ledgerOf({ pods: 2, partitions: 2, seed: 13, requests: 200 });
    const reports = new MemoryReportStore();
    await reportDay(DAY, deps(ledger, reports));
    const started = await startDay(DAY, deps(ledger, reports), () => Promise.reject(new Error('started')));
    expect(started).toMatchObject({ kept: { day: DAY, unchanged: true } });
  });

  it('runs a calibrated day in two stages and gives the bytes of the calibrated day in one process', async () => {
    const { ledger } = await ledgerOf({ pods: 6, partitions: 3, seed: 14, requests: 6000 });
    const calibrated = { calibrated: true } as const;
    const reference = await inOneProcess(ledger, calibrated);
    const { files, rounds, outcome } = await fannedOut(ledger, 1, calibrated);
    expect([...rounds].sort()).toEqual([0, 1]);
    expect(files).toEqual(reference);
    // The fit is real: at least one deployment's constants were fitted from the day's requests.
    const metrics = JSON.parse(reference.metrics ?? '{}') as { calibration?: { source: string }[] };
    expect(metrics.calibration?.some((c) => c.source === 'fitted')).toBe(true);
    expect(outcome).toMatchObject({ day: DAY, revision: 1 });
  });

  it('fits a calibrated day from whole pods when a pod spans partitions, every message delivered twice', async () => {
    const ledger = new MemoryLedger();
    const traffic = fleetTraffic({
      date: DAY,
      pods: 3,
      seed: 15,
      requests: 3000,
      duplicateRate: 0,
      partitions: 1,
    });
    // Each pod's requests split over two partitions by eventId: no unit holds a whole pod.
    for (const m of traffic.hub.partitions[0] ?? []) {
      const body = m.body as { eventId?: string };
      const partition = (body.eventId ?? '').charCodeAt(0) % 2 === 0 ? '0' : '1';
      await ingestBatch([{ ...m, partition }], { ledger, prices, now });
    }
    const calibrated = { calibrated: true } as const;
    const reference = await inOneProcess(ledger, calibrated);
    const { files, rounds } = await fannedOut(ledger, 2, calibrated);
    expect([...rounds].sort()).toEqual([0, 1, 2]);
    expect(files).toEqual(reference);
  });
});
