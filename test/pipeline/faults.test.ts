import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { dailyDeps, ingestDeps, type Services } from '../../src/composition/composition.js';
import { reportDay } from '../../src/usecases/daily/daily-run.js';
import { startAzurite } from '../../dev/azurite.js';
import { invoke, type Handler, type HubMessage } from '../../dev/event-hub-delivery.js';
import { fleetTraffic } from '../../dev/fleet-traffic.js';
import { FaultProxy, portsOf, throughPorts } from '../helpers/fault-proxy.js';
import { isolatedServices } from '../helpers/storage.js';
import { waitFor } from '../helpers/wait.js';
import { DAY } from '../helpers/events.js';

const traffic = fleetTraffic({
  date: DAY,
  pods: 3,
  seed: 5,
  requests: 2500,
  duplicateRate: 0.01,
  partitions: 2,
});
const partitions = traffic.hub.partitions;

interface Counts {
  read: number;
  accepted: number;
  rejected: number;
  duplicates: number;
}

interface Outcome {
  csv: string;
  /** The summary without generatedAt and revision, the two fields a rerun may change. */
  summary: Record<string, unknown>;
  counts: Counts;
}

function batches(messages: readonly HubMessage[], size: number): HubMessage[][] {
  const out: HubMessage[][] = [];
  for (let i = 0; i < messages.length; i += size) out.push(messages.slice(i, i + size));
  return out;
}

/** Runs ingestion through `deliver`, then the daily report, and returns what a reader would compare. */
async function pipeline(
  s: Services,
  retryDeadlineMs: number,
  deliver: (ingest: Handler, log: (line: string) => void) => Promise<void>,
): Promise<Outcome> {
  const counts: Counts = { read: 0, accepted: 0, rejected: 0, duplicates: 0 };
  const log = (line: string): void => {
    if (!line.includes('"function":"ingestUsage"')) return;
    const c = JSON.parse(line) as Counts;
    counts.read += c.read;
    counts.accepted += c.accepted;
    counts.rejected += c.rejected;
    counts.duplicates += c.duplicates;
  };
  const ingest = makeIngestUsage(() => Promise.resolve(ingestDeps(s, retryDeadlineMs)));
  await deliver(ingest, log);
  await reportDay(DAY, dailyDeps(s));
  const summary = JSON.parse((await s.reports.summary(DAY)) ?? '{}') as Record<string, unknown>;
  delete summary.generatedAt;
  delete summary.revision;
  return { csv: (await s.reports.csv(DAY)) ?? '', summary, counts };
}

const inOrder =
  (size: number, times = 1) =>
  async (ingest: Handler, log: (line: string) => void) => {
    await Promise.all(
      partitions.map(async (messages, p) => {
        for (const batch of batches(messages, size))
          for (let t = 0; t < times; t += 1) await invoke(ingest, String(p), batch, log);
      }),
    );
  };

let baseline: Outcome;

beforeAll(async () => {
  baseline = await pipeline(await isolatedServices(), 0, inOrder(400));
});

function expectSameAsBaseline(outcome: Outcome): void {
  expect(outcome.csv).toBe(baseline.csv);
  expect(outcome.summary).toEqual(baseline.summary);
  const c = outcome.counts;
  expect(c.read).toBe(c.accepted + c.rejected + c.duplicates);
  expect(c.accepted).toBe(baseline.counts.accepted);
}

describe('the ledger and the report survive delivery faults (Azurite)', () => {
  it('the fault-free run reports the whole day and dead-letters only the hostile messages', () => {
    expect(baseline.counts).toEqual({
      read: traffic.events + traffic.hostile,
      accepted: traffic.events,
      rejected: traffic.hostile,
      duplicates: 0,
    });
    expect(baseline.summary.rejected).toBe(traffic.hostile);
    expect(Math.abs(Number(baseline.summary.closureDifferenceUsd))).toBeLessThan(0.01);
  });

  it('a batch delivered three times', async () => {
    const outcome = await pipeline(await isolatedServices(), 0, inOrder(400, 3));
    expect(outcome.counts.duplicates).toBe(2 * traffic.events);
    expectSameAsBaseline(outcome);
  });

  it('a crash after half a batch was written, then redelivery from the checkpoint in other batches', async () => {
    const azurite = inject('azurite');
    const ports = portsOf(azurite);
    const table = new FaultProxy(ports.table);
    const s = await isolatedServices(throughPorts(azurite, ports.blob, await table.start()));
    try {
      const outcome = await pipeline(s, 0, async (ingest, log) => {
        const p0 = partitions[0] ?? [];
        const [first = [], second = []] = batches(p0, 400);
        await invoke(ingest, '0', first, log);
        // Half of the second batch reaches the ledger; then every commit dies mid-flight (the
        // segment blob is written, its Table transaction never arrives) and the invocation fails.
        await invoke(ingest, '0', second.slice(0, 200), log);
        table.rule = (request) => (request.url?.includes('$batch') === true ? 'drop' : 'pass');
        await expect(invoke(ingest, '0', second, log)).rejects.toThrow();
        table.rule = () => 'pass';
        // The host starts again from its last checkpoint (before the second batch), cut differently.
        for (const batch of batches(p0.slice(400), 250)) await invoke(ingest, '0', batch, log);
        for (const batch of batches(partitions[1] ?? [], 400)) await invoke(ingest, '1', batch, log);
      });
      expect(table.failed).toBeGreaterThan(0);
      expectSameAsBaseline(outcome);
    } finally {
      await table.stop();
    }
  });

  it('storage calls that fail transiently', async () => {
    const azurite = inject('azurite');
    const ports = portsOf(azurite);
    const blob = new FaultProxy(ports.blob);
    const table = new FaultProxy(ports.table);
    let calls = 0;
    // Every 4th call to either service fails with 503 Server Busy.
    blob.rule = table.rule = () => (++calls % 4 === 0 ? 'fail' : 'pass');
    const s = await isolatedServices(throughPorts(azurite, await blob.start(), await table.start()));
    try {
      const outcome = await pipeline(s, 30_000, inOrder(400));
      expect(blob.failed + table.failed).toBeGreaterThan(10);
      expectSameAsBaseline(outcome);
    } finally {
      await Promise.all([blob.stop(), table.stop()]);
    }
  });

  describe('Azurite restarted mid-day', () => {
    const location = mkdtempSync(join(tmpdir(), 'azurite-disk-'));
    let azurite: Awaited<ReturnType<typeof startAzurite>>;

    beforeAll(async () => {
      azurite = await startAzurite({ location });
    });
    afterAll(async () => {
      await azurite.stop();
    });

    it('ingestion waits for storage to come back and loses nothing', async () => {
      const s = await isolatedServices(azurite.connectionString);
      let retries = 0;
      const outcome = await pipeline(s, 60_000, async (ingest, logCounts) => {
        const log = (line: string): void => {
          if (line.includes('retrying in')) retries += 1;
          logCounts(line);
        };
        for (const [p, messages] of partitions.entries()) {
          const all = batches(messages, 400);
          const half = Math.floor(all.length / 2);
          for (const batch of all.slice(0, half)) await invoke(ingest, String(p), batch, log);
          if (p === 0) {
            const before = retries;
            await azurite.stop();
            const pending = invoke(ingest, String(p), all[half] ?? [], log);
            // Storage comes back only once ingestion has met the outage and is retrying.
            await waitFor(() => retries > before, { timeoutMs: 30_000, what: 'ingestion to retry' });
            azurite = await startAzurite(azurite.options);
            await pending;
            for (const batch of all.slice(half + 1)) await invoke(ingest, String(p), batch, log);
          } else {
            for (const batch of all.slice(half)) await invoke(ingest, String(p), batch, log);
          }
        }
      });
      expect(retries).toBeGreaterThan(0);
      expectSameAsBaseline(outcome);
    });
  });
});
