import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { fleetTraffic } from '../../dev/fleet-traffic.js';
import { makeReportDayUnit } from '../../functions/reportDayUnit.js';
import { temporaryRunSpace } from '../../src/adapters/files/temp-run-space.js';
import { MemoryAlertStore } from '../../src/adapters/memory/memory-alert-store.js';
import { MemoryFanOutStore, MemoryWorkQueue } from '../../src/adapters/memory/memory-fan-out.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { MemoryOutbox } from '../../src/adapters/memory/memory-outbox.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { MemoryRunStorage } from '../../src/adapters/memory/memory-run-storage.js';
import { readPriceCard } from '../../src/composition/files.js';
import { DEFAULT_LIFECYCLE_POLICY } from '../../src/domain/drift/lifecycle.js';
import { DEFAULT_DRIFT_RULES } from '../../src/domain/drift/rules.js';
import { PermanentError } from '../../src/domain/errors.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import type { FanOutMessage } from '../../src/ports/fan-out.js';
import { startDay, type DayWorkDeps } from '../../src/usecases/day/day-work.js';
import { startJob, type FanOutDeps } from '../../src/usecases/fan-out/fan-out.js';
import { ingestBatch } from '../../src/usecases/ingest/ingest.js';
import { DAY, DAY_AFTER } from '../helpers/events.js';

const prices = readPriceCard('prices/azure-a100.json');
const now = () => new Date(`${DAY_AFTER}T00:30:00Z`);

/** A day's ledger, the fan-out's ports in memory, and the handler over them. */
async function setup() {
  const ledger = new MemoryLedger();
  const traffic = fleetTraffic({
    date: DAY,
    duplicateRate: 0,
    pods: 4,
    partitions: 2,
    seed: 5,
    requests: 800,
  });
  for (const [p, messages] of traffic.hub.partitions.entries())
    await ingestBatch(
      messages.map((m) => ({ ...m, partition: String(p) })),
      { ledger, prices, now },
    );
  const reports = new MemoryReportStore();
  const queue = new MemoryWorkQueue(now);
  const fanOut: FanOutDeps = { store: new MemoryFanOutStore(), queue, clock: now, leaseMs: 0 };
  const storage = new MemoryRunStorage(1000);
  const work: DayWorkDeps = {
    ledger,
    reports,
    prices,
    now,
    idle: 'separate',
    weighting: DEFAULT_WEIGHTING,
    restateDays: 35,
    unitEvents: 500,
    runSpace: () => temporaryRunSpace(),
    runStorageFor: () => storage,
    space: () => temporaryRunSpace(),
  };
  const alerts = new MemoryAlertStore();
  const handler = makeReportDayUnit(() =>
    Promise.resolve({
      fanOut,
      work,
      drift: {
        reports,
        alerts,
        outbox: new MemoryOutbox(),
        notifier: undefined,
        rules: DEFAULT_DRIFT_RULES,
        policy: DEFAULT_LIFECYCLE_POLICY,
        now,
      },
    }),
  );
  return { reports, queue, fanOut, work, handler };
}

function context(logs: string[]): InvocationContext {
  return new InvocationContext({
    invocationId: 'unit-test',
    functionName: 'reportDayUnit',
    logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
  });
}

describe('reportDayUnit', () => {
  it('computes the units it is handed, and the worker that completes the day logs it and runs drift', async () => {
    const { reports, queue, fanOut, work, handler } = await setup();
    await startDay(DAY, work, (job, plan, units) => startJob(fanOut, job, plan, units));
    const logs: string[] = [];
    for (let i = 0; i < 50 && queue.pending.length > 0; i += 1) {
      const batch: FanOutMessage[] = queue.take();
      // The host hands the message's text, as a Storage queue trigger does.
      for (const m of batch) await handler(JSON.stringify(m), context(logs));
    }
    expect(queue.pending).toHaveLength(0);
    expect(logs.filter((l) => /^reportDayUnit: .*: unit /.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(
      logs.some((l) => l.startsWith(`reportDay: ${DAY} (fan-out job `) && l.includes('revision 1 reported')),
    ).toBe(true);
    expect(logs.some((l) => l.startsWith(`reportDay: ${DAY} drift:`))).toBe(true);
    expect(await reports.csv(DAY)).toMatch(/^date,/);
    expect(await reports.alerts(DAY)).toBeDefined();
  });

  it('refuses a message that is not one of the fan-out, as permanent, computing nothing', async () => {
    const { reports, handler } = await setup();
    const logs: string[] = [];
    await expect(handler('{"job":', context(logs))).rejects.toBeInstanceOf(PermanentError);
    await expect(handler({ job: 'x', round: 'one' }, context(logs))).rejects.toThrow();
    expect(await reports.csv(DAY)).toBeUndefined();
  });
});
