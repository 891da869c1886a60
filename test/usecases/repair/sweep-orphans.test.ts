import { describe, expect, it } from 'vitest';
import { NOTHING_COMMITTED, segmentBlobName, type SegmentDraft } from '../../../src/ports/ledger.js';
import { sweepOrphanSegments } from '../../../src/usecases/repair/sweep-orphans.js';
import { DAY } from '../../helpers/events.js';
import { STORES, type Stores } from '../../helpers/repair.js';

const HOUR = 3_600_000;
// Blobs carry the storage's own clock; a sweep "a day from now" sees every blob of the test as old.
const DAY_LATER = () => new Date(Date.now() + 24 * HOUR + 60_000);
const NOW = () => new Date();

function draft(firstSequence: number, lastSequence: number): SegmentDraft {
  const lines = Array.from(
    { length: lastSequence - firstSequence + 1 },
    (_, i) => `{"n":${firstSequence + i}}`,
  );
  return {
    day: DAY,
    partition: '0',
    firstSequence,
    lastSequence,
    lines,
    usageEvents: lines.length,
    capacityEvents: 0,
    minStartMs: Date.parse(`${DAY}T01:00:00Z`),
    maxEndMs: Date.parse(`${DAY}T02:00:00Z`),
  };
}

/** A committed segment 0-1, and the blob 0-3 of a writer that lost the race for the same mark: an orphan. */
async function ledgerWithOrphan(stores: Stores): Promise<void> {
  expect(await stores.ledger.commit(draft(0, 1), NOTHING_COMMITTED)).toBe('committed');
  expect(await stores.ledger.commit(draft(0, 3), NOTHING_COMMITTED)).toBe('conflict');
  await stores.ledger.commitReplay({
    day: DAY,
    partition: '0',
    sequenceNumber: 9,
    line: '{"n":9}',
    usage: true,
    startMs: 0,
    endMs: 1,
  });
}

async function blobNames(stores: Stores): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of stores.ledger.segmentBlobs()) names.push(blob.name);
  return names;
}

const sweep = (stores: Stores, now: () => Date, dryRun = false) =>
  sweepOrphanSegments({ ledger: stores.ledger, now }, { minAgeMs: 24 * HOUR, dryRun });

describe.each(STORES)('sweeping orphan segments: %s', (_name, make) => {
  it('deletes an old orphan and reports its size; committed segments and replays survive', async () => {
    const stores = await make();
    await ledgerWithOrphan(stores);
    const before = await blobNames(stores);
    const outcome = await sweep(stores, DAY_LATER);
    const orphan = segmentBlobName(draft(0, 3));
    expect(outcome.orphans.map((o) => [o.name, o.bytes])).toEqual([[orphan, 32]]);
    expect(outcome).toMatchObject({ orphanBytes: 32, examined: 3, committed: 2, young: 0, changed: 0 });
    expect(await blobNames(stores)).toEqual(before.filter((n) => n !== orphan));
    const [segment] = await stores.ledger.segmentsFor(DAY);
    if (segment === undefined) throw new Error('no segment');
    expect(await stores.ledger.readSegment(segment)).toBe('{"n":0}\n{"n":1}\n');
    expect((await sweep(stores, DAY_LATER)).orphans).toEqual([]);
  });

  it('leaves a young orphan alone: an ingestion may be between upload and commit', async () => {
    const stores = await make();
    await ledgerWithOrphan(stores);
    const before = await blobNames(stores);
    expect(await sweep(stores, NOW)).toMatchObject({ orphans: [], young: 3, committed: 0 });
    expect(await blobNames(stores)).toEqual(before);
  });

  it('a dry run lists the orphan and deletes nothing', async () => {
    const stores = await make();
    await ledgerWithOrphan(stores);
    const before = await blobNames(stores);
    const outcome = await sweep(stores, DAY_LATER, true);
    expect(outcome.orphans.map((o) => o.name)).toEqual([segmentBlobName(draft(0, 3))]);
    expect(await blobNames(stores)).toEqual(before);
  });

  it('reads the index row of every candidate, so a segment committed after the day’s listing survives', async () => {
    const stores = await make();
    expect(await stores.ledger.commit(draft(0, 3), NOTHING_COMMITTED)).toBe('committed');
    // The day's rows as listed before that commit: none. Only the look-up of the candidate's own row
    // tells the sweep the blob is committed.
    const stale = new Proxy(stores.ledger, {
      get(target, property) {
        if (property === 'segmentsFor') return () => Promise.resolve([]);
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const outcome = await sweepOrphanSegments(
      { ledger: stale, now: DAY_LATER },
      { minAgeMs: 24 * HOUR, dryRun: false },
    );
    expect(outcome).toMatchObject({ orphans: [], committed: 1 });
    expect(await blobNames(stores)).toEqual([segmentBlobName(draft(0, 3))]);
  });
});
