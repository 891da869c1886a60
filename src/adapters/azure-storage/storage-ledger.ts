import {
  odata,
  RestError,
  type TableClient,
  type TableEntityResult,
  type TransactionAction,
} from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import { dayEndMs, nextDay } from '../../domain/days.js';
import {
  deadLetterBlobName,
  draftRowKey,
  highWaterRowKey,
  NOTHING_COMMITTED,
  segmentBlobName,
  segmentInfo,
  segmentRowKey,
  type CommitOutcome,
  type LedgerRepair,
  type ReplayDraft,
  type SegmentBlob,
  type DeadLetter,
  type DirtyDay,
  type HighWater,
  type Ledger,
  type SegmentDraft,
  type SegmentInfo,
} from '../../ports/ledger.js';
import * as repair from './storage-ledger-repair.js';

const DIRTY = 'dirty';
// One row per SKU of the price card last seen, RowKey = the SKU (VM sizes hold none of the characters RowKey forbids).
const PRICES = 'prices';

/**
 * The ledger in Azure Storage: segment blobs in a container, and one Table holding, per event day
 * (the PartitionKey), an index row per segment and a high-water mark per Event Hubs partition, so
 * that a segment's row and the mark commit in one entity-group transaction.
 */
export class StorageLedger implements Ledger, LedgerRepair {
  /** Marks this instance committed or read last; a stale one only costs a conflict and a re-read. */
  private readonly marks = new Map<string, HighWater>();

  constructor(
    private readonly table: TableClient,
    private readonly container: ContainerClient,
  ) {}

  /** Creates the table and the container when they do not exist yet. */
  async ensure(): Promise<void> {
    await Promise.all([this.table.createTable(), this.container.createIfNotExists()]);
  }

  async highWater(day: string, partition: string): Promise<HighWater> {
    const key = `${day}|${partition}`;
    const cached = this.marks.get(key);
    if (cached !== undefined) return cached;
    try {
      const entity = await this.table.getEntity(day, highWaterRowKey(partition));
      const mark = { sequenceNumber: Number(entity.sequenceNumber), version: entity.etag };
      this.marks.set(key, mark);
      return mark;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return NOTHING_COMMITTED;
      throw error;
    }
  }

  async commit(draft: SegmentDraft, expected: HighWater): Promise<CommitOutcome> {
    const blob = segmentBlobName(draft);
    const text = draft.lines.map((l) => `${l}\n`).join('');
    await this.container.getBlockBlobClient(blob).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson; charset=utf-8' },
    });
    const { day: _day, ...info } = segmentInfo(draft, new Date().toISOString());
    const row = { partitionKey: draft.day, rowKey: draftRowKey(draft), ...info };
    // A restart segment rewrites the mark unmoved: its new ETag is what stops a second commit.
    const sequenceNumber = Math.max(expected.sequenceNumber, draft.lastSequence);
    const mark = { partitionKey: draft.day, rowKey: highWaterRowKey(draft.partition), sequenceNumber };
    const markAction: TransactionAction =
      expected.version === undefined
        ? ['create', mark]
        : ['update', mark, 'Replace', { etag: expected.version }];
    const key = `${draft.day}|${draft.partition}`;
    try {
      const response = await this.table.submitTransaction([['create', row], markAction]);
      const etag = response.getResponseForEntity(mark.rowKey)?.etag;
      if (etag === undefined) this.marks.delete(key);
      else this.marks.set(key, { sequenceNumber, version: etag });
      return 'committed';
    } catch (error) {
      // 409: the mark or the row already exists; 412: the mark moved. Someone committed first.
      if (error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412)) {
        this.marks.delete(key);
        return 'conflict';
      }
      this.marks.delete(key);
      throw error;
    }
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    await Promise.all(
      letters.map(async (letter) => {
        const text = JSON.stringify(letter);
        await this.container
          .getBlockBlobClient(deadLetterBlobName(letter))
          .upload(text, Buffer.byteLength(text), {
            blobHTTPHeaders: { blobContentType: 'application/json' },
          });
      }),
    );
  }

  async markDirty(days: readonly string[], at: string): Promise<void> {
    await Promise.all(
      days.map((day) =>
        this.table.upsertEntity({ partitionKey: DIRTY, rowKey: day, lastCommitAt: at }, 'Merge'),
      ),
    );
  }

  async dirtyDays(since: string): Promise<DirtyDay[]> {
    const days: DirtyDay[] = [];
    const entities = this.table.listEntities<{ lastCommitAt: string }>({
      queryOptions: { filter: odata`PartitionKey eq ${DIRTY} and RowKey ge ${since}` },
    });
    for await (const e of entities) days.push({ day: e.rowKey ?? '', lastCommitAt: e.lastCommitAt });
    return days;
  }

  async segmentsFor(day: string): Promise<SegmentInfo[]> {
    const end = dayEndMs(day);
    const own = odata`PartitionKey eq ${day} and RowKey ge 'seg|' and RowKey lt 'seg}'`;
    const spill = odata`PartitionKey eq ${nextDay(day)} and RowKey ge 'seg|' and RowKey lt 'seg}' and minStartMs lt ${end}`;
    const segments: SegmentInfo[] = [];
    for (const filter of [own, spill]) {
      for await (const e of this.table.listEntities({ queryOptions: { filter } }))
        segments.push(segmentOf(e, day));
    }
    return segments;
  }

  async segmentsCovering(
    day: string,
    partition: string,
    first: number,
    last: number,
  ): Promise<SegmentInfo[]> {
    // Rows sort by first sequence number (restart and replay rows just after the segment row of the
    // same number), so the key range holds every segment of the partition starting at or before
    // `last`. The end is compared here: a filter constant must have the property's type, and an
    // untyped number may be stored as Int32 or as Double. Only batches at or below the mark
    // (redeliveries, numbering gone back) come here, so listing the rows below `last` is affordable.
    const filter = odata`PartitionKey eq ${day} and RowKey ge ${segmentRowKey(partition, 0)} and RowKey lt ${segmentRowKey(partition, last + 1)}`;
    const segments: SegmentInfo[] = [];
    for await (const e of this.table.listEntities({ queryOptions: { filter } })) {
      const segment = segmentOf(e, day);
      if (segment.lastSequence >= first) segments.push(segment);
    }
    return segments;
  }

  async readSegment(segment: SegmentInfo): Promise<string> {
    return (await this.container.getBlobClient(segment.blob).downloadToBuffer()).toString('utf8');
  }

  async deadLettersOn(day: string): Promise<number> {
    let count = 0;
    for await (const page of this.container
      .listBlobsFlat({ prefix: `deadletter/${day}/` })
      .byPage({ maxPageSize: 5000 }))
      count += page.segment.blobItems.length;
    return count;
  }

  deadLettersBetween(from: string | undefined, to: string | undefined): AsyncIterable<DeadLetter> {
    return repair.deadLettersBetween(this.container, from, to);
  }

  commitReplay(draft: ReplayDraft): Promise<'committed' | 'already'> {
    return repair.commitReplay(this.table, this.container, draft);
  }

  retireDeadLetter(letter: DeadLetter, replayedAt: string): Promise<void> {
    return repair.retireDeadLetter(this.container, letter, replayedAt);
  }

  segmentBlobs(): AsyncIterable<SegmentBlob> {
    return repair.segmentBlobs(this.container);
  }

  indexedBlob(day: string, rowKey: string): Promise<string | undefined> {
    return repair.indexedBlob(this.table, day, rowKey);
  }

  deleteSegmentBlob(blob: SegmentBlob): Promise<boolean> {
    return repair.deleteSegmentBlob(this.container, blob);
  }

  async pricesSeen(): Promise<Map<string, string>> {
    const seen = new Map<string, string>();
    const rows = this.table.listEntities<{ record: string }>({
      queryOptions: { filter: odata`PartitionKey eq ${PRICES}` },
    });
    for await (const row of rows) seen.set(row.rowKey ?? '', row.record);
    return seen;
  }

  async rememberPrices(records: ReadonlyMap<string, string>): Promise<void> {
    const old = await this.pricesSeen();
    // Table properties hold up to 64 KiB of text: a SKU's record is a few dozen bytes per price.
    await Promise.all([
      ...[...records].map(([sku, record]) =>
        this.table.upsertEntity({ partitionKey: PRICES, rowKey: sku, record }, 'Replace'),
      ),
      ...[...old.keys()]
        .filter((sku) => !records.has(sku))
        .map((sku) => this.table.deleteEntity(PRICES, sku)),
    ]);
  }
}

function segmentOf(e: TableEntityResult<Record<string, unknown>>, day: string): SegmentInfo {
  return {
    day: e.partitionKey ?? day,
    partition: String(e.partition),
    firstSequence: Number(e.firstSequence),
    lastSequence: Number(e.lastSequence),
    events: Number(e.events),
    usageEvents: Number(e.usageEvents),
    capacityEvents: Number(e.capacityEvents),
    minStartMs: Number(e.minStartMs),
    maxEndMs: Number(e.maxEndMs),
    blob: String(e.blob),
    committedAt: String(e.committedAt),
  };
}
