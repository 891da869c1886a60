import { RestError, type TableClient } from '@azure/data-tables';
import type { ClaimedEntry, NewOutboxEntry, Outbox, OutboxEntry } from '../../ports/outbox.js';
import { oldestFirst } from '../../ports/outbox.js';

interface OutboxRow extends OutboxEntry {
  readonly partitionKey: string;
  readonly rowKey: string;
  /** Epoch milliseconds; 0 when nobody holds the entry. */
  readonly leaseUntil: number;
}

/**
 * The outbox as rows of one partition of a Table. Claims are ETag-conditional updates: of two runs
 * that read the same free row, one update succeeds and the other gets 412 and skips the row, so each
 * entry goes to one run. The body is at most 24 KB of UTF-8 (MAX_MESSAGE_BYTES), so at most 24,576
 * UTF-16 characters, under Table Storage's 64 KiB limit for a string property.
 */
export class TableOutbox implements Outbox {
  constructor(
    private readonly table: TableClient,
    private readonly partition = 'outbox',
  ) {}

  async ensure(): Promise<void> {
    await this.table.createTable();
  }

  async add(entry: NewOutboxEntry): Promise<boolean> {
    try {
      await this.table.createEntity(this.row({ ...entry, attempts: 1 }, 0));
      return true;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 409) return false;
      throw error;
    }
  }

  async claim(now: Date, leaseMs: number, limit: number): Promise<ClaimedEntry[]> {
    const free = (await this.rows()).filter((row) => row.leaseUntil <= now.getTime()).sort(oldestFirst);
    const claimed: ClaimedEntry[] = [];
    for (const row of free) {
      if (claimed.length >= limit) break;
      const taken = await this.conditional(() =>
        this.table.updateEntity(this.row(row, now.getTime() + leaseMs), 'Replace', { etag: row.etag }),
      );
      if (taken !== undefined) claimed.push({ ...entryOf(row), claim: taken });
    }
    return claimed;
  }

  async remove(entry: ClaimedEntry): Promise<boolean> {
    const done = await this.conditional(async () => {
      await this.table.deleteEntity(this.partition, rowKey(entry.key), { etag: entry.claim });
      return { etag: entry.claim };
    });
    return done !== undefined;
  }

  async release(entry: ClaimedEntry, error: string): Promise<boolean> {
    const row = this.row({ ...entry, attempts: entry.attempts + 1, lastError: error }, 0);
    const done = await this.conditional(() => this.table.updateEntity(row, 'Replace', { etag: entry.claim }));
    return done !== undefined;
  }

  async list(): Promise<OutboxEntry[]> {
    return (await this.rows()).map(entryOf).sort(oldestFirst);
  }

  private async rows(): Promise<(OutboxRow & { etag: string })[]> {
    const rows: (OutboxRow & { etag: string })[] = [];
    const filter = `PartitionKey eq '${this.partition.replace(/'/g, "''")}'`;
    for await (const row of this.table.listEntities<OutboxRow>({ queryOptions: { filter } })) rows.push(row);
    return rows;
  }

  /** The new ETag, or undefined when another run changed or deleted the row first. */
  private async conditional(write: () => Promise<{ etag?: string }>): Promise<string | undefined> {
    try {
      return (await write()).etag ?? '';
    } catch (error) {
      if (error instanceof RestError && (error.statusCode === 412 || error.statusCode === 404))
        return undefined;
      throw error;
    }
  }

  private row(entry: OutboxEntry, leaseUntil: number): OutboxRow {
    return { partitionKey: this.partition, rowKey: rowKey(entry.key), ...entryOf(entry), leaseUntil };
  }
}

/** Keys hold '/' (day/alert/id), which a RowKey may not: base64url has none of the forbidden characters. */
function rowKey(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

/** The entry's own fields, without the row's or a claim's (spreading a row would carry them along). */
function entryOf(row: OutboxEntry): OutboxEntry {
  return {
    key: row.key,
    body: row.body,
    enqueuedAt: row.enqueuedAt,
    lastError: row.lastError,
    attempts: row.attempts,
  };
}
