import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../../src/adapters/memory/memory-ledger.js';
import { MemoryReportStore } from '../../../src/adapters/memory/memory-report-store.js';
import type { Ledger } from '../../../src/ports/ledger.js';
import { reportDay } from '../../../src/usecases/daily/daily-run.js';
import {
  ingestBatch,
  type DeliveredMessage,
  type IngestCounts,
} from '../../../src/usecases/ingest/ingest.js';
import { DEFAULT_WEIGHTING } from '../../../src/domain/weighting.js';
import { at, capacity, DAY, DAY_AFTER, TEST_PRICES, usage } from '../../helpers/events.js';
import { isolatedServices } from '../../helpers/storage.js';

const now = () => new Date(`${DAY_AFTER}T00:10:00Z`);

/**
 * One numbering of a partition: the messages a hub holds, sequence number -> body. A recreated hub,
 * or another one after a failover, is another numbering starting again at 0 with other events.
 */
function numbering(name: string, length: number): string[] {
  return Array.from({ length }, (_, n) =>
    JSON.stringify(usage({ eventId: `${name}-${n}`, startedAt: at(10 + n), finishedAt: at(20 + n) })),
  );
}

/** Messages first..last (inclusive) of a numbering, as the host delivers them. */
function batch(bodies: readonly string[], first: number, last: number, partition = '0'): DeliveredMessage[] {
  const messages: DeliveredMessage[] = [];
  for (let n = first; n <= last; n += 1)
    messages.push({ body: bodies[n], partition, sequenceNumber: n, enqueuedTime: at(100 + n) });
  return messages;
}

function ingest(ledger: Ledger, messages: readonly DeliveredMessage[]): Promise<IngestCounts> {
  return ingestBatch(messages, { ledger, prices: TEST_PRICES, now });
}

/** The eventIds of every line the ledger holds for the day, repeats included, sorted. */
async function ledgerIds(ledger: Ledger, day = DAY): Promise<string[]> {
  const ids: string[] = [];
  for (const segment of (await ledger.segmentsFor(day)).filter((s) => s.day === day)) {
    for (const line of (await ledger.readSegment(segment)).split('\n')) {
      if (line !== '') ids.push((JSON.parse(line) as { eventId: string }).eventId);
    }
  }
  return ids.sort();
}

const idsOf = (bodies: readonly string[]): string[] =>
  bodies.map((b) => (JSON.parse(b) as { eventId: string }).eventId);

function suite(name: string, make: () => Promise<Ledger>): void {
  describe(`sequence numbers that go back (${name})`, () => {
    it('keeps the events it never saw when a checkpoint moves back: 150-199, then 0-199', async () => {
      const ledger = await make();
      const hub = numbering('a', 200);
      await ingest(ledger, batch(hub, 150, 199));
      const counts = await ingest(ledger, batch(hub, 0, 199));
      expect(counts).toMatchObject({ read: 200, accepted: 150, duplicates: 50, keptBelowMark: 150 });
      expect(await ledgerIds(ledger)).toEqual(idsOf(hub).sort());
    });

    it('reports the regression with its day, partition, mark and the batch’s range', async () => {
      const ledger = await make();
      const hub = numbering('a', 200);
      await ingest(ledger, batch(hub, 150, 199));
      const { regressions } = await ingest(ledger, batch(hub, 0, 199));
      expect(regressions).toHaveLength(1);
      expect(regressions[0]).toMatch(
        new RegExp(
          `^partition 0, day ${DAY}: sequence numbers went back \\(batch 0-199, high-water mark 199\\)`,
        ),
      );
      expect(regressions[0]).toContain('150 events at or below the mark were not in the ledger');
    });

    it('keeps every event of a recreated hub whose numbering starts again at 0', async () => {
      const ledger = await make();
      const old = numbering('old', 200);
      const recreated = numbering('new', 300);
      await ingest(ledger, batch(old, 0, 199));
      const below = await ingest(ledger, batch(recreated, 0, 99));
      const across = await ingest(ledger, batch(recreated, 100, 299));
      expect(below).toMatchObject({ accepted: 100, duplicates: 0, keptBelowMark: 100 });
      // 100-199 are at or below the old mark, 200-299 above it: both are kept.
      expect(across).toMatchObject({ accepted: 200, duplicates: 0, keptBelowMark: 100, segments: 2 });
      expect(await ledgerIds(ledger)).toEqual([...idsOf(old), ...idsOf(recreated)].sort());
    });

    it('still counts a true redelivery below the mark as duplicates, and reports no regression', async () => {
      const ledger = await make();
      const hub = numbering('a', 200);
      await ingest(ledger, batch(hub, 0, 99));
      await ingest(ledger, batch(hub, 100, 199));
      const counts = await ingest(ledger, batch(hub, 50, 150));
      expect(counts).toMatchObject({
        read: 101,
        accepted: 0,
        duplicates: 101,
        keptBelowMark: 0,
        segments: 0,
      });
      expect(counts.regressions).toEqual([]);
      expect(await ledgerIds(ledger)).toEqual(idsOf(hub).sort());
    });

    it('counts a redelivery of events kept below the mark as duplicates', async () => {
      const ledger = await make();
      const old = numbering('old', 200);
      const recreated = numbering('new', 100);
      await ingest(ledger, batch(old, 0, 199));
      await ingest(ledger, batch(recreated, 0, 99));
      const again = await ingest(ledger, batch(recreated, 20, 80));
      expect(again).toMatchObject({ accepted: 0, duplicates: 61, keptBelowMark: 0, regressions: [] });
      expect(await ledgerIds(ledger)).toEqual([...idsOf(old), ...idsOf(recreated)].sort());
    });

    it('keeps a restarted batch once when two instances take it at the same time', async () => {
      const real = await make();
      const outcomes: string[] = [];
      const ledger: Ledger = Object.assign(Object.create(real) as Ledger, {
        commit: async (...args: Parameters<Ledger['commit']>) => {
          const outcome = await real.commit(...args);
          outcomes.push(outcome);
          return outcome;
        },
      });
      const old = numbering('old', 100);
      const recreated = numbering('new', 60);
      await ingest(ledger, batch(old, 0, 99));
      const [one, two] = await Promise.all([
        ingest(ledger, batch(recreated, 0, 59)),
        ingest(ledger, batch(recreated, 10, 59)),
      ]);
      expect(outcomes).toContain('conflict');
      expect(one.accepted + two.accepted).toBe(60);
      expect(await ledgerIds(ledger)).toEqual([...idsOf(old), ...idsOf(recreated)].sort());
    });

    it('sorts one batch into unseen, redelivered and new events', async () => {
      const ledger = await make();
      const hub = numbering('a', 250);
      await ingest(ledger, batch(hub, 100, 199));
      // 50-99 were never seen, 100-199 were, 200-249 are above the mark.
      const counts = await ingest(ledger, batch(hub, 50, 249));
      expect(counts).toMatchObject({ read: 200, accepted: 100, duplicates: 100, keptBelowMark: 50 });
      expect(await ledgerIds(ledger)).toEqual(idsOf(hub.slice(50)).sort());
    });

    it('holds an event only against the mark of its own day', async () => {
      const ledger = await make();
      const hub = numbering('a', 100);
      await ingest(ledger, batch(hub, 50, 99));
      const nextDay = JSON.stringify(
        capacity({ eventId: 'next-day', windowStart: at(86_500), windowEnd: at(86_560) }),
      );
      const counts = await ingest(ledger, [
        ...batch(hub, 0, 49),
        { body: nextDay, partition: '0', sequenceNumber: 50, enqueuedTime: at(90_000) },
      ]);
      expect(counts).toMatchObject({ read: 51, accepted: 51, duplicates: 0, keptBelowMark: 50 });
      expect(await ledgerIds(ledger)).toEqual(idsOf(hub).sort());
      expect(await ledgerIds(ledger, DAY_AFTER)).toEqual(['next-day']);
    });
  });
}

suite('in memory', () => Promise.resolve(new MemoryLedger()));
suite('Azure Storage on Azurite', async () => (await isolatedServices()).ledger);

describe('the daily run after numbering went back', () => {
  it('counts each event once', async () => {
    const ledger = new MemoryLedger();
    const old = numbering('old', 60);
    const recreated = numbering('new', 80);
    await ingest(ledger, batch(old, 20, 59));
    await ingest(ledger, batch(old, 0, 59));
    await ingest(ledger, batch(recreated, 0, 79));
    await ingest(ledger, batch(recreated, 10, 30));
    const reports = new MemoryReportStore();
    await reportDay(
      DAY,
      {
        ledger,
        reports,
        prices: TEST_PRICES,
        now,
        idle: 'separate',
        weighting: DEFAULT_WEIGHTING,
        restateDays: 35,
      },
      () => undefined,
    );
    const summary = JSON.parse((await reports.summary(DAY)) ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({ requests: 140, usageEvents: 140, duplicatesDropped: 0 });
  });
});

/** A delivery: messages first..first+length-1 of one numbering (clipped to its end). */
const delivery = fc.record({
  numbering: fc.integer({ min: 0, max: 2 }),
  first: fc.integer({ min: 0, max: 39 }),
  length: fc.integer({ min: 1, max: 25 }),
});

async function exactlyOnce(
  ledger: Ledger,
  deliveries: readonly { numbering: number; first: number; length: number }[],
) {
  // Three numberings of one partition: the first hub, a recreated one, and one after a failover.
  const hubs = ['a', 'b', 'c'].map((name) => numbering(name, 40));
  const delivered = new Set<string>();
  let accepted = 0;
  let duplicates = 0;
  let read = 0;
  for (const d of deliveries) {
    const hub = hubs[d.numbering] ?? [];
    const last = Math.min(d.first + d.length, hub.length) - 1;
    const counts = await ingest(ledger, batch(hub, d.first, last));
    for (const id of idsOf(hub.slice(d.first, last + 1))) delivered.add(id);
    accepted += counts.accepted;
    duplicates += counts.duplicates;
    read += counts.read;
  }
  expect(await ledgerIds(ledger)).toEqual([...delivered].sort());
  expect(accepted).toBe(delivered.size);
  expect(duplicates).toBe(read - delivered.size);
}

describe('exactly once, whatever redeliveries and restarted numberings interleave (contracts.md §4.6)', () => {
  it('keeps exactly the distinct eventIds (in memory)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(delivery, { minLength: 1, maxLength: 12 }), (deliveries) =>
        exactlyOnce(new MemoryLedger(), deliveries),
      ),
      { numRuns: 200 },
    );
  });

  it('keeps exactly the distinct eventIds (Azure Storage on Azurite)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(delivery, { minLength: 1, maxLength: 8 }), async (deliveries) =>
        exactlyOnce((await isolatedServices()).ledger, deliveries),
      ),
      { numRuns: 8 },
    );
  }, 60_000);
});
