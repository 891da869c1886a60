import { describe, expect, it } from 'vitest';
import { readPriceCard } from '../../../src/composition/files.js';
import { reportDay, type DailyDeps } from '../../../src/usecases/daily/daily-run.js';
import { EventAccumulator } from '../../../src/domain/accumulator.js';
import { parseRecordText } from '../../../src/domain/fast-parse.js';
import { DEFAULT_WEIGHTING } from '../../../src/domain/weighting.js';
import { ingestBatch } from '../../../src/usecases/ingest/ingest.js';
import { MemoryLedger } from '../../../src/adapters/memory/memory-ledger.js';
import { fleetTraffic } from '../../../dev/fleet-traffic.js';
import { buildReport } from '../../../src/domain/report/build.js';
import { parseMetrics } from '../../../src/domain/metrics/build.js';
import { MemoryReportStore } from '../../../src/adapters/memory/memory-report-store.js';
import { at, DAY, DAY_AFTER } from '../../helpers/events.js';

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
  };
}

/** The reference: every ledger line of the day in one accumulator, one chargeback. */
async function onePass(
  ledger: MemoryLedger,
): Promise<{ csv: string; summary: Record<string, unknown>; metrics: string }> {
  const accumulator = new EventAccumulator(prices);
  for (const segment of await ledger.segmentsFor(DAY)) {
    for (const line of (await ledger.readSegment(segment)).split('\n')) {
      if (line !== '') accumulator.add(parseRecordText(line, accumulator.intern));
    }
  }
  const report = buildReport({
    date: DAY,
    dayStart: Date.parse(at(0)) * 1000,
    dayEnd: Date.parse(at(86_400)) * 1000,
    usage: accumulator.usage(),
    capacity: accumulator.capacity(),
    counts: {
      ...accumulator.counts,
      eventsRead: accumulator.counts.eventsRead + (await ledger.deadLettersOn(DAY)),
      rejected: accumulator.counts.rejected + (await ledger.deadLettersOn(DAY)),
    },
    prices,
    weighting: DEFAULT_WEIGHTING,
    idle: 'separate',
    revision: 1,
    generatedAt: now().toISOString(),
  });
  return {
    csv: report.csv,
    summary: JSON.parse(report.summary) as Record<string, unknown>,
    metrics: report.metrics,
  };
}

async function partitioned(ledger: MemoryLedger, log: (m: string) => void = () => undefined) {
  const reports = new MemoryReportStore();
  await reportDay(DAY, deps(ledger, reports), log);
  return {
    csv: (await reports.csv(DAY)) ?? '',
    summary: JSON.parse((await reports.summary(DAY)) ?? '{}') as Record<string, unknown>,
    metrics: (await reports.metrics(DAY)) ?? '',
  };
}

describe('the daily run, partition by partition', () => {
  it('gives exactly the report of one pass over the whole day', async () => {
    const ledger = new MemoryLedger();
    const traffic = fleetTraffic({
      date: DAY,
      pods: 5,
      seed: 8,
      requests: 3000,
      duplicateRate: 0.02,
      partitions: 3,
    });
    for (const [p, messages] of traffic.hub.partitions.entries()) {
      await ingestBatch(
        messages.map((m) => ({ ...m, partition: String(p) })),
        { ledger, prices, now },
      );
    }
    expect(
      (await ledger.segmentsFor(DAY)).map((s) => s.partition).filter((p, i, a) => a.indexOf(p) === i).length,
    ).toBeGreaterThan(1);
    const reference = await onePass(ledger);
    const actual = await partitioned(ledger);
    expect(actual.csv).toBe(reference.csv);
    expect(actual.summary).toEqual(reference.summary);
    // The histograms and the per-pod figures merge as exactly as the CSV's rows: the same bytes.
    expect(parseMetrics(actual.metrics).groups.length).toBeGreaterThan(1);
    expect(actual.metrics).toBe(reference.metrics);
  });

  it('falls back to one pass when a pod’s events span partitions, and is still right', async () => {
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
    // Capacity windows in one partition, requests in another: as after a change of partition count.
    const byType = (type: string) => messages.filter((m) => (m.body as { type?: string }).type === type);
    await ingestBatch(
      byType('capacity').map((m) => ({ ...m, partition: '0' })),
      { ledger, prices, now },
    );
    await ingestBatch(
      byType('usage').map((m) => ({ ...m, partition: '1' })),
      { ledger, prices, now },
    );
    const logged: string[] = [];
    const actual = await partitioned(ledger, (m) => logged.push(m));
    expect(logged.some((m) => m.includes('span Event Hubs partitions'))).toBe(true);
    expect(actual.summary.unmeteredRequests).toBe(0);
    expect(actual.csv).toBe((await onePass(ledger)).csv);
  });

  it('keeps one version of an eventId whose versions sit in two partitions, as one pass does', async () => {
    const ledger = new MemoryLedger();
    const traffic = fleetTraffic({
      date: DAY,
      pods: 2,
      seed: 10,
      requests: 200,
      duplicateRate: 0,
      partitions: 2,
    });
    for (const [p, messages] of traffic.hub.partitions.entries()) {
      await ingestBatch(
        messages.map((m) => ({ ...m, partition: String(p) })),
        { ledger, prices, now },
      );
    }
    // A usage event sent again through the other partition, changed to name another pod.
    const isUsage = (m: { body: unknown }) => {
      const body = m.body as { type?: string; eventId?: string };
      return body.type === 'usage' && body.eventId?.startsWith('hostile') !== true;
    };
    const home = traffic.hub.partitions.findIndex((messages) => messages.some(isUsage));
    const original = traffic.hub.partitions[home]?.find(isUsage);
    if (original === undefined) throw new Error('no usage event');
    const before = await onePass(ledger);
    await ingestBatch(
      [
        {
          ...original,
          partition: String(1 - home),
          sequenceNumber: 1_000_000,
          body: { ...(original.body as object), pod: 'moved-pod' },
        },
      ],
      { ledger, prices, now },
    );
    const reference = await onePass(ledger);
    const actual = await partitioned(ledger);
    expect(reference.summary.rejected).toBe(Number(before.summary.rejected) + 1);
    expect(actual.summary).toEqual(reference.summary);
    expect(actual.csv).toBe(reference.csv);
    expect(actual.metrics).toBe(reference.metrics);
  });
});
