import { describe, expect, it } from 'vitest';
import {
  indexRowOf,
  NOTHING_COMMITTED,
  replaySegmentBlobName,
  segmentBlobName,
  type DeadLetter,
  type Ledger,
  type LedgerRepair,
  type ReplayDraft,
  type SegmentBlob,
  type SegmentDraft,
} from '../../src/ports/ledger.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { at, DAY, DAY_AFTER } from '../helpers/events.js';
import { isolatedServices } from '../helpers/storage.js';

const MIDNIGHT = Date.parse(at(86_400));

function draft(fields: Partial<SegmentDraft> = {}): SegmentDraft {
  return {
    day: DAY,
    partition: '0',
    firstSequence: 0,
    lastSequence: 1,
    lines: ['{"n":0}', '{"n":1}'],
    usageEvents: 2,
    capacityEvents: 0,
    minStartMs: MIDNIGHT - 3_600_000,
    maxEndMs: MIDNIGHT - 1000,
    ...fields,
  };
}

function replay(fields: Partial<ReplayDraft> = {}): ReplayDraft {
  return {
    day: DAY,
    partition: '0',
    sequenceNumber: 5,
    line: '{"n":5}',
    usage: true,
    startMs: MIDNIGHT - 7200_000,
    endMs: MIDNIGHT - 7000_000,
    ...fields,
  };
}

function letter(day: string, sequenceNumber: number): DeadLetter {
  return { partition: '1', sequenceNumber, enqueuedTime: `${day}T08:00:00.000Z`, reason: 'r', body: '{}' };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** One contract, two adapters: what the daily run and the ingestion rely on. */
function contract(name: string, make: () => Promise<Ledger & LedgerRepair>): void {
  describe(`ledger contract: ${name}`, () => {
    it('starts with nothing committed', async () => {
      const ledger = await make();
      expect(await ledger.highWater(DAY, '0')).toEqual(NOTHING_COMMITTED);
    });

    it('commits a segment, moves the mark, and reads the segment back', async () => {
      const ledger = await make();
      expect(await ledger.commit(draft(), NOTHING_COMMITTED)).toBe('committed');
      expect((await ledger.highWater(DAY, '0')).sequenceNumber).toBe(1);
      const [segment] = await ledger.segmentsFor(DAY);
      expect(segment).toMatchObject({
        day: DAY,
        partition: '0',
        firstSequence: 0,
        lastSequence: 1,
        events: 2,
      });
      if (segment === undefined) throw new Error('no segment');
      expect(await ledger.readSegment(segment)).toBe('{"n":0}\n{"n":1}\n');
    });

    it('refuses a commit against a mark that has moved, so two writers never both commit', async () => {
      const ledger = await make();
      const before = await ledger.highWater(DAY, '0');
      expect(await ledger.commit(draft(), before)).toBe('committed');
      expect(await ledger.commit(draft({ firstSequence: 2, lastSequence: 3 }), before)).toBe('conflict');
      const after = await ledger.highWater(DAY, '0');
      expect(await ledger.commit(draft({ firstSequence: 2, lastSequence: 3 }), after)).toBe('committed');
      expect((await ledger.segmentsFor(DAY)).length).toBe(2);
    });

    it('keeps marks per day and per partition', async () => {
      const ledger = await make();
      await ledger.commit(draft({ lastSequence: 9 }), NOTHING_COMMITTED);
      expect((await ledger.highWater(DAY, '1')).sequenceNumber).toBe(-1);
      expect((await ledger.highWater(DAY_AFTER, '0')).sequenceNumber).toBe(-1);
    });

    it('gives a day the next day’s segments that started before midnight, and only those', async () => {
      const ledger = await make();
      await ledger.commit(
        draft({ day: DAY_AFTER, minStartMs: MIDNIGHT - 5000, maxEndMs: MIDNIGHT + 5000 }),
        NOTHING_COMMITTED,
      );
      const mark = await ledger.highWater(DAY_AFTER, '0');
      await ledger.commit(
        draft({
          day: DAY_AFTER,
          firstSequence: 2,
          lastSequence: 3,
          minStartMs: MIDNIGHT + 1,
          maxEndMs: MIDNIGHT + 9000,
        }),
        mark,
      );
      expect((await ledger.segmentsFor(DAY)).map((s) => s.firstSequence)).toEqual([0]);
      expect((await ledger.segmentsFor(DAY_AFTER)).length).toBe(2);
    });

    it('keeps one dead letter per partition and sequence number, counted by enqueued day', async () => {
      const ledger = await make();
      const letter = {
        partition: '2',
        sequenceNumber: 7,
        enqueuedTime: `${DAY}T10:00:00.000Z`,
        reason: 'r',
        body: '{',
      };
      await ledger.deadLetter([letter]);
      await ledger.deadLetter([letter, { ...letter, sequenceNumber: 8 }]);
      expect(await ledger.deadLettersOn(DAY)).toBe(2);
      expect(await ledger.deadLettersOn(DAY_AFTER)).toBe(0);
    });

    it('lists dead letters by enqueued day, one day or a range, in name order', async () => {
      const ledger = await make();
      await ledger.deadLetter([
        letter(DAY_AFTER, 1),
        letter(DAY, 2),
        letter(DAY, 1),
        letter('2026-11-25', 1),
      ]);
      const keys = async (from?: string, to?: string) =>
        (await collect(ledger.deadLettersBetween(from, to))).map(
          (l) => `${l.enqueuedTime.slice(0, 10)}/${l.sequenceNumber}`,
        );
      expect(await keys(DAY, DAY)).toEqual([`${DAY}/1`, `${DAY}/2`]);
      expect(await keys(DAY_AFTER, undefined)).toEqual([`${DAY_AFTER}/1`, '2026-11-25/1']);
      expect(await keys(undefined, DAY_AFTER)).toEqual([`${DAY}/1`, `${DAY}/2`, `${DAY_AFTER}/1`]);
      expect((await collect(ledger.deadLettersBetween(undefined, undefined))).length).toBe(4);
    });

    it('commits a replay segment once, beside the day’s segments, without moving the mark', async () => {
      const ledger = await make();
      await ledger.commit(draft(), NOTHING_COMMITTED);
      expect(await ledger.commitReplay(replay())).toBe('committed');
      expect(await ledger.commitReplay(replay())).toBe('already');
      expect((await ledger.highWater(DAY, '0')).sequenceNumber).toBe(1);
      const replayed = (await ledger.segmentsFor(DAY)).filter(
        (s) => s.blob === replaySegmentBlobName(replay()),
      );
      expect(replayed).toMatchObject([
        { day: DAY, partition: '0', firstSequence: 5, lastSequence: 5, events: 1 },
      ]);
      if (replayed[0] === undefined) throw new Error('no replay segment');
      expect(await ledger.readSegment(replayed[0])).toBe('{"n":5}\n');
      // The mark it did not move still takes the next batch of the partition.
      const mark = await ledger.highWater(DAY, '0');
      expect(await ledger.commit(draft({ firstSequence: 5, lastSequence: 6 }), mark)).toBe('committed');
    });

    it('commits a restart segment beside the segment of the same numbers, leaving the mark’s number but not its version', async () => {
      const ledger = await make();
      await ledger.commit(draft({ lastSequence: 9 }), NOTHING_COMMITTED);
      const mark = await ledger.highWater(DAY, '0');
      const restart = draft({ lines: ['{"n":"r0"}', '{"n":"r1"}'], restart: 'ab12' });
      expect(await ledger.commit(restart, mark)).toBe('committed');
      const after = await ledger.highWater(DAY, '0');
      expect(after.sequenceNumber).toBe(9);
      expect(after.version).not.toBe(mark.version);
      // A second instance that read the mark before cannot commit the same events again.
      expect(await ledger.commit(restart, mark)).toBe('conflict');
      const segments = await ledger.segmentsFor(DAY);
      expect(segments.map((s) => s.blob).sort()).toEqual([
        segmentBlobName(draft({ lastSequence: 9 })),
        segmentBlobName(restart),
      ]);
      const kept = segments.find((s) => s.blob === segmentBlobName(restart));
      if (kept === undefined) throw new Error('no restart segment');
      expect(kept).toMatchObject({ firstSequence: 0, lastSequence: 1, events: 2 });
      expect(await ledger.readSegment(kept)).toBe('{"n":"r0"}\n{"n":"r1"}\n');
      expect(await ledger.commit(draft({ firstSequence: 10, lastSequence: 11 }), after)).toBe('committed');
    });

    it('lists the segments of one partition and day that cover a range of sequence numbers', async () => {
      const ledger = await make();
      await ledger.commit(draft({ lastSequence: 9 }), NOTHING_COMMITTED);
      let mark = await ledger.highWater(DAY, '0');
      await ledger.commit(draft({ firstSequence: 10, lastSequence: 19 }), mark);
      mark = await ledger.highWater(DAY, '0');
      await ledger.commit(draft({ firstSequence: 20, lastSequence: 29 }), mark);
      mark = await ledger.highWater(DAY, '0');
      await ledger.commit(draft({ firstSequence: 12, lastSequence: 14, restart: 'cd34' }), mark);
      await ledger.commitReplay(replay({ sequenceNumber: 15 }));
      await ledger.commit(draft({ partition: '1', firstSequence: 10, lastSequence: 19 }), NOTHING_COMMITTED);
      await ledger.commit(draft({ day: DAY_AFTER, firstSequence: 10, lastSequence: 19 }), NOTHING_COMMITTED);
      const covering = async (first: number, last: number) =>
        (await ledger.segmentsCovering(DAY, '0', first, last)).map((s) => s.blob.replace(/^.*\//, '')).sort();
      expect(await covering(15, 19)).toEqual([
        `${'0'.repeat(18)}10-${'0'.repeat(18)}19.ndjson`,
        `replay-${'0'.repeat(18)}15.ndjson`,
      ]);
      expect(await covering(9, 12)).toEqual([
        `${'0'.repeat(19)}0-${'0'.repeat(19)}9.ndjson`,
        `${'0'.repeat(18)}10-${'0'.repeat(18)}19.ndjson`,
        `restart-${'0'.repeat(18)}12-${'0'.repeat(18)}14-cd34.ndjson`,
      ]);
      expect(await covering(30, 40)).toEqual([]);
    });

    it('moves a retired dead letter out of the day’s count', async () => {
      const ledger = await make();
      await ledger.deadLetter([letter(DAY, 1), letter(DAY, 2)]);
      await ledger.retireDeadLetter(letter(DAY, 1), '2026-11-24T00:00:00.000Z');
      await ledger.retireDeadLetter(letter(DAY, 1), '2026-11-24T00:00:00.000Z');
      expect(await ledger.deadLettersOn(DAY)).toBe(1);
      expect((await collect(ledger.deadLettersBetween(DAY, DAY))).map((l) => l.sequenceNumber)).toEqual([2]);
    });

    it('lists segment blobs, finds the index row of each, and deletes one only at the version listed', async () => {
      const ledger = await make();
      await ledger.commit(draft(), NOTHING_COMMITTED);
      // A lost race leaves the loser's blob behind: an orphan.
      expect(await ledger.commit(draft({ lastSequence: 3 }), NOTHING_COMMITTED)).toBe('conflict');
      await ledger.commitReplay(replay());
      await ledger.commit(draft({ restart: 'ef56' }), await ledger.highWater(DAY, '0'));
      const blobs = await collect(ledger.segmentBlobs());
      const indexed = await Promise.all(
        blobs.map(async (b) => {
          const row = indexRowOf(b.name);
          return row === undefined ? undefined : await ledger.indexedBlob(row.day, row.rowKey);
        }),
      );
      const names = blobs.map((b) => b.name);
      expect(indexed.map((blob, i) => blob === names[i])).toEqual([true, false, true, true]);
      const orphan = blobs[1] as SegmentBlob;
      expect(orphan.bytes).toBe(16);
      expect(await ledger.deleteSegmentBlob({ ...orphan, version: `${orphan.version}x` })).toBe(false);
      expect(await ledger.deleteSegmentBlob(orphan)).toBe(true);
      expect(await ledger.deleteSegmentBlob(orphan)).toBe(false);
      expect((await collect(ledger.segmentBlobs())).map((b) => b.name)).toEqual([
        names[0],
        names[2],
        names[3],
      ]);
    });

    it('remembers the latest commit time of dirty days from a given day on', async () => {
      const ledger = await make();
      await ledger.markDirty([DAY, DAY_AFTER], '2026-11-23T01:00:00.000Z');
      await ledger.markDirty([DAY], '2026-11-23T02:00:00.000Z');
      expect(await ledger.dirtyDays(DAY)).toEqual([
        { day: DAY, lastCommitAt: '2026-11-23T02:00:00.000Z' },
        { day: DAY_AFTER, lastCommitAt: '2026-11-23T01:00:00.000Z' },
      ]);
      expect((await ledger.dirtyDays(DAY_AFTER)).map((d) => d.day)).toEqual([DAY_AFTER]);
    });
  });
}

contract('in memory', () => Promise.resolve(new MemoryLedger()));
contract('Azure Storage on Azurite', async () => (await isolatedServices()).ledger);
