import { RestError, type TableClient } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import {
  deadLetterBlobName,
  replayedBlobName,
  replayRowKey,
  replaySegmentBlobName,
  replaySegmentInfo,
  type DeadLetter,
  type ReplayDraft,
  type SegmentBlob,
} from '../../ports/ledger.js';

/**
 * The repair side of the Storage ledger (see LedgerRepair in ports/ledger.ts): reading and retiring
 * dead letters, committing replay segments, and the listing, index look-up and conditional delete
 * that the orphan sweep needs. The same table and container as StorageLedger.
 */

const DEAD_LETTERS = 'deadletter/';

export async function* deadLettersBetween(
  container: ContainerClient,
  from: string | undefined,
  to: string | undefined,
): AsyncIterable<DeadLetter> {
  // One day is one prefix; a range lists the whole folder, in name (= enqueued day) order.
  const prefix = from !== undefined && from === to ? `${DEAD_LETTERS}${from}/` : DEAD_LETTERS;
  for await (const item of container.listBlobsFlat({ prefix })) {
    const day = item.name.slice(DEAD_LETTERS.length, DEAD_LETTERS.length + 10);
    if (from !== undefined && day < from) continue;
    if (to !== undefined && day > to) return;
    const text = (await container.getBlobClient(item.name).downloadToBuffer()).toString('utf8');
    yield JSON.parse(text) as DeadLetter;
  }
}

export async function commitReplay(
  table: TableClient,
  container: ContainerClient,
  draft: ReplayDraft,
): Promise<'committed' | 'already'> {
  const text = `${draft.line}\n`;
  await container.getBlockBlobClient(replaySegmentBlobName(draft)).upload(text, Buffer.byteLength(text), {
    blobHTTPHeaders: { blobContentType: 'application/x-ndjson; charset=utf-8' },
  });
  const { day: _day, ...info } = replaySegmentInfo(draft, new Date().toISOString());
  try {
    // Create, never upsert: the row's existence is what makes a second replay add nothing.
    await table.createEntity({
      partitionKey: draft.day,
      rowKey: replayRowKey(draft.partition, draft.sequenceNumber),
      ...info,
    });
    return 'committed';
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 409) return 'already';
    throw error;
  }
}

export async function retireDeadLetter(
  container: ContainerClient,
  letter: DeadLetter,
  replayedAt: string,
): Promise<void> {
  // Copy first, delete second: a crash between leaves the letter in both places, and the next
  // replay finds its segment committed and only finishes the move.
  const text = JSON.stringify({ ...letter, replayedAt });
  await container.getBlockBlobClient(replayedBlobName(letter)).upload(text, Buffer.byteLength(text), {
    blobHTTPHeaders: { blobContentType: 'application/json' },
  });
  await container.getBlobClient(deadLetterBlobName(letter)).deleteIfExists();
}

export async function* segmentBlobs(container: ContainerClient): AsyncIterable<SegmentBlob> {
  for await (const item of container.listBlobsFlat({ prefix: 'segments/' })) {
    yield {
      name: item.name,
      bytes: item.properties.contentLength ?? 0,
      lastModified: item.properties.lastModified.toISOString(),
      version: item.properties.etag,
    };
  }
}

export async function indexedBlob(
  table: TableClient,
  day: string,
  rowKey: string,
): Promise<string | undefined> {
  try {
    const entity = await table.getEntity<{ blob?: string }>(day, rowKey, {
      queryOptions: { select: ['blob'] },
    });
    return typeof entity.blob === 'string' ? entity.blob : undefined;
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) return undefined;
    throw error;
  }
}

export async function deleteSegmentBlob(container: ContainerClient, blob: SegmentBlob): Promise<boolean> {
  try {
    // If-Match: a commit in progress may have written the same name again since the listing.
    await container.getBlobClient(blob.name).delete({ conditions: { ifMatch: blob.version } });
    return true;
  } catch (error) {
    if (error instanceof RestError && (error.statusCode === 412 || error.statusCode === 404)) return false;
    throw error;
  }
}
