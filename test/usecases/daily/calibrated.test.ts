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
import { DayCalibration, type CalibrationRecord } from '../../../src/domain/calibration/calibrate.js';
import { at, DAY, DAY_AFTER } from '../../helpers/events.js';

const prices = readPriceCard('prices/azure-a100.json');
let clock = new Date(`${DAY_AFTER}T00:30:00Z`);
const now = () => clock;

function deps(ledger: MemoryLedger, reports: MemoryReportStore, calibrated = true): DailyDeps {
  return {
    ledger,
    reports,
    prices,
    now,
    idle: 'separate',
    weighting: DEFAULT_WEIGHTING,
    ...(calibrated ? { calibrated: true } : {}),
    restateDays: 35,
  };
}

type Message = ReturnType<typeof fleetTraffic>['hub']['partitions'][number][number];

/** The day's messages in three partitions; `keep` chooses which are ingested now. */
function traffic(requests: number) {
  return fleetTraffic({ date: DAY, pods: 4, seed: 12, requests, duplicateRate: 0.01, partitions: 3 });
}

/** Ingests the chosen messages; `later` ones get sequence numbers after everything sent before. */
async function ingest(
  ledger: MemoryLedger,
  t: ReturnType<typeof traffic>,
  keep: (m: Message, i: number) => boolean,
  later = false,
) {
  for (const [p, messages] of t.hub.partitions.entries()) {
    const chosen = messages.filter(keep).map((m) => ({
      ...m,
      partition: String(p),
      sequenceNumber: m.sequenceNumber + (later ? 10_000_000 : 0),
    }));
    if (chosen.length > 0) await ingestBatch(chosen, { ledger, prices, now });
  }
}

/** The reference: every ledger line in one accumulator, calibrated as given (fitted anew when `stored` is empty). */
async function onePass(ledger: MemoryLedger, stored: readonly CalibrationRecord[] = []) {
  const accumulator = new EventAccumulator(prices);
  for (const segment of await ledger.segmentsFor(DAY)) {
    for (const line of (await ledger.readSegment(segment)).split('\n')) {
      if (line !== '') accumulator.add(parseRecordText(line, accumulator.intern));
    }
  }
  const calibration = new DayCalibration(DEFAULT_WEIGHTING, stored);
  calibration.add(accumulator.usage());
  calibration.fit();
  const dead = await ledger.deadLettersOn(DAY);
  return buildReport({
    date: DAY,
    dayStart: Date.parse(at(0)) * 1000,
    dayEnd: Date.parse(at(86_400)) * 1000,
    usage: accumulator.usage(),
    capacity: accumulator.capacity(),
    counts: {
      ...accumulator.counts,
      eventsRead: accumulator.counts.eventsRead + dead,
      rejected: accumulator.counts.rejected + dead,
    },
    prices,
    weighting: DEFAULT_WEIGHTING,
    weightingFor: (d) => calibration.weightingFor(d),
    calibration: calibration.records(),
    idle: 'separate',
    keepRequests: true,
    revision: 1,
    generatedAt: now().toISOString(),
  });
}

const isUsage = (m: Message): boolean => (m.body as { type?: string }).type === 'usage';

describe('the daily run with calibrated step costs', () => {
  it('fits each deployment from the whole day, partition by partition, as one pass over the day does', async () => {
    clock = new Date(`${DAY_AFTER}T00:30:00Z`);
    const ledger = new MemoryLedger();
    await ingest(ledger, traffic(6000), () => true);
    const reports = new MemoryReportStore();
    await reportDay(DAY, deps(ledger, reports));
    const reference = await onePass(ledger);
    expect(await reports.csv(DAY)).toBe(reference.csv);
    expect(await reports.summary(DAY)).toBe(reference.summary);
    expect(await reports.metrics(DAY)).toBe(reference.metrics);

    const metrics = parseMetrics((await reports.metrics(DAY)) ?? '');
    const fitted = (metrics.calibration ?? []).filter((c) => c.source === 'fitted');
    expect(fitted.length).toBeGreaterThanOrEqual(2); // both models of the simulated fleet
    for (const c of fitted) expect(c.requests).toBeGreaterThanOrEqual(500);
    // The fitted constants are used: the allocation differs from the configured constants'.
    const plain = new MemoryReportStore();
    await reportDay(DAY, deps(ledger, plain, false));
    expect(await plain.csv(DAY)).not.toBe(await reports.csv(DAY));
    expect(parseMetrics((await plain.metrics(DAY)) ?? '').calibration).toBeUndefined();
    const summary = JSON.parse((await reports.summary(DAY)) ?? '{}') as { calibration?: unknown };
    expect(summary.calibration).toEqual(metrics.calibration);
  });

  it('keeps a day’s fitted constants when late events restate it, and gives the same bytes when nothing changed', async () => {
    clock = new Date(`${DAY_AFTER}T00:30:00Z`);
    const ledger = new MemoryLedger();
    const t = traffic(6000);
    // Every tenth usage event is late: it reaches the ledger after the day's first report.
    const late = (m: Message, i: number): boolean => isUsage(m) && i % 10 === 3;
    await ingest(ledger, t, (m, i) => !late(m, i));
    const reports = new MemoryReportStore();
    const first = await reportDay(DAY, deps(ledger, reports));
    expect(first.revision).toBe(1);
    const firstCalibration = parseMetrics((await reports.metrics(DAY)) ?? '').calibration ?? [];
    expect(firstCalibration.some((c) => c.source === 'fitted')).toBe(true);

    // The same ledger again: the stored fit is reused and the report is unchanged.
    clock = new Date(`${DAY_AFTER}T01:30:00Z`);
    const again = await reportDay(DAY, deps(ledger, reports));
    expect(again).toMatchObject({ revision: 1, unchanged: true });

    clock = new Date(`${DAY_AFTER}T02:30:00Z`);
    await ingest(ledger, t, late, true);
    const restated = await reportDay(DAY, deps(ledger, reports));
    expect(restated).toMatchObject({ revision: 2, restated: true, unchanged: false });
    const metrics = parseMetrics((await reports.metrics(DAY)) ?? '');
    expect(metrics.calibration).toEqual(firstCalibration);
    // A fit of the whole day as it is now would give other constants: the stored ones were reused.
    const refit = await onePass(ledger);
    expect(refit.dailyMetrics.calibration).not.toEqual(firstCalibration);
    // And the restated allocation is the one of the stored constants over every event.
    const withStored = await onePass(ledger, firstCalibration);
    expect(await reports.csv(DAY)).toBe(withStored.csv);

    // An operator's restatement with refit fits the day as it is now.
    clock = new Date(`${DAY_AFTER}T03:30:00Z`);
    const refitted = await reportDay(DAY, { ...deps(ledger, reports), refit: true });
    expect(refitted).toMatchObject({ revision: 3, unchanged: false });
    expect(parseMetrics((await reports.metrics(DAY)) ?? '').calibration).toEqual(
      refit.dailyMetrics.calibration,
    );
    expect(await reports.csv(DAY)).toBe(refit.csv);
  });

  it('keeps the configured constants of a deployment with too few requests, and fits it once late events bring enough', async () => {
    clock = new Date(`${DAY_AFTER}T00:30:00Z`);
    const ledger = new MemoryLedger();
    const t = traffic(4000);
    const early = (m: Message, i: number): boolean => !isUsage(m) || i % 20 === 0;
    await ingest(ledger, t, early);
    const reports = new MemoryReportStore();
    await reportDay(DAY, deps(ledger, reports));
    const first = parseMetrics((await reports.metrics(DAY)) ?? '').calibration ?? [];
    expect(first.length).toBeGreaterThan(0);
    for (const c of first) {
      expect(c.source).toBe('configured');
      expect(c.reason).toMatch(/fewer than the 500 a fit needs/);
      // The record counts the requests the reason speaks of.
      expect(c.reason).toMatch(new RegExp(`^${c.requests} requests with a decode phase`));
      expect(c.requests).toBeGreaterThan(0);
    }
    // With configured constants everywhere, the report is the step-cost one.
    const plain = new MemoryReportStore();
    await reportDay(DAY, deps(ledger, plain, false));
    expect(await reports.csv(DAY)).toBe(await plain.csv(DAY));

    clock = new Date(`${DAY_AFTER}T02:30:00Z`);
    await ingest(ledger, t, (m, i) => !early(m, i), true);
    await reportDay(DAY, deps(ledger, reports));
    const later = parseMetrics((await reports.metrics(DAY)) ?? '').calibration ?? [];
    expect(later.some((c) => c.source === 'fitted')).toBe(true);
    expect(await reports.csv(DAY)).toBe((await onePass(ledger)).csv);
  });

  it('fits anew, and says so, when the stored metrics file cannot be read', async () => {
    clock = new Date(`${DAY_AFTER}T00:30:00Z`);
    const ledger = new MemoryLedger();
    await ingest(ledger, traffic(3000), () => true);
    const reports = new MemoryReportStore();
    await reportDay(DAY, deps(ledger, reports));
    const files = {
      csv: (await reports.csv(DAY)) ?? '',
      summary: (await reports.summary(DAY)) ?? '',
      metrics: '{"schemaVersion": 1, "truncated',
    };
    await reports.write(DAY, files, { revision: 1, ledgerAsOf: '2000-01-01T00:00:00.000Z' });
    const logged: string[] = [];
    clock = new Date(`${DAY_AFTER}T01:30:00Z`);
    await reportDay(DAY, deps(ledger, reports), (m) => logged.push(m));
    expect(
      logged.some((m) => m.includes('stored metrics file cannot be read') && m.includes('not JSON')),
    ).toBe(true);
    expect(parseMetrics((await reports.metrics(DAY)) ?? '').calibration).toEqual(
      (await onePass(ledger)).dailyMetrics.calibration,
    );
  });
});
