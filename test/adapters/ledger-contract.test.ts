import { describe, expect, it } from 'vitest';
import { NOTHING_COMMITTED, type Ledger, type SegmentDraft } from '../../src/ports/ledger.js';
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

/** One contract, two adapters: what the daily run and the ingestion rely on. */
function contract(name: string, make: () => Promise<Ledger>): void {
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
