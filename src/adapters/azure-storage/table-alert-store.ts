import { createHash } from 'node:crypto';
import { odata, RestError, type TableClient } from '@azure/data-tables';
import type { Day } from '../../domain/days.js';
import type { AlertRecord, PostKind, PostPhase } from '../../domain/drift/lifecycle.js';
import type {
  AlertStore,
  ClaimInfo,
  ClaimStatus,
  PostClaim,
  StoredAlert,
  WriteOutcome,
} from '../../ports/alert-store.js';

const RECORDS = 'alert';
const claimPartition = (day: Day): string => `claim|${day}`;

// PartitionKey and RowKey may not hold '/', '\', '#', '?' or control characters and are at most
// 1 KiB (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
// Percent-encoding removes all of those and '|', which then separates key parts unambiguously; an
// id too long for a key is named by its SHA-256 instead, marked by '%%', which no percent-encoding
// produces. The id itself is kept in a property, so reading never decodes a key.
const MAX_ENCODED = 400;

export function alertKey(id: string): string {
  const encoded = encodeURIComponent(id);
  if (encoded.length <= MAX_ENCODED) return encoded;
  return `%%${createHash('sha256').update(id, 'utf8').digest('hex')}`;
}

function claimRowKey(c: Pick<PostClaim, 'id' | 'phase'>): string {
  return `${alertKey(c.id)}|${c.phase}`;
}

interface RecordEntity {
  readonly id: string;
  readonly json: string;
}

interface ClaimEntity {
  readonly id: string;
  readonly day: string;
  readonly phase: string;
  readonly kind: string;
  readonly runId: string;
  readonly claimedAt: string;
  readonly status: string;
  readonly settledAt?: string;
}

function isStatus(code: number, error: unknown): boolean {
  return error instanceof RestError && error.statusCode === code;
}

/**
 * The alert store in one Azure Storage table: records in partition `alert`, claims in a partition
 * per day, so a day's claims are read with one query. Conditional writes use the entity ETag
 * (If-Match) for records and insert-if-absent (409 on an existing row) for claims.
 */
export class TableAlertStore implements AlertStore {
  constructor(private readonly table: TableClient) {}

  /** Creates the table when it does not exist yet. */
  async ensure(): Promise<void> {
    await this.table.createTable();
  }

  async records(): Promise<StoredAlert[]> {
    const all: StoredAlert[] = [];
    const rows = this.table.listEntities<RecordEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${RECORDS}` },
    });
    for await (const row of rows) all.push(stored(row.json, row.etag));
    return all;
  }

  async get(id: string): Promise<StoredAlert | undefined> {
    try {
      const row = await this.table.getEntity<RecordEntity>(RECORDS, alertKey(id));
      return stored(row.json, row.etag);
    } catch (error) {
      if (isStatus(404, error)) return undefined;
      throw error;
    }
  }

  async put(record: AlertRecord, expected: string | undefined): Promise<WriteOutcome> {
    const entity = {
      partitionKey: RECORDS,
      rowKey: alertKey(record.id),
      id: record.id,
      json: JSON.stringify(record),
    };
    try {
      if (expected === undefined) await this.table.createEntity(entity);
      else await this.table.updateEntity(entity, 'Replace', { etag: expected });
      return 'written';
    } catch (error) {
      // 409: created meanwhile; 412: replaced meanwhile; 404: an expected row is gone.
      if (isStatus(409, error) || isStatus(412, error) || isStatus(404, error)) return 'conflict';
      throw error;
    }
  }

  async claim(claim: PostClaim): Promise<'won' | 'lost'> {
    try {
      await this.table.createEntity<ClaimEntity & { partitionKey: string; rowKey: string }>({
        partitionKey: claimPartition(claim.day),
        rowKey: claimRowKey(claim),
        ...claim,
        status: 'claimed',
      });
      return 'won';
    } catch (error) {
      if (isStatus(409, error)) return 'lost';
      throw error;
    }
  }

  async settle(
    key: Pick<PostClaim, 'day' | 'id' | 'phase'>,
    status: Exclude<ClaimStatus, 'claimed'>,
    at: string,
  ): Promise<void> {
    // Merge without an ETag: only the winner settles its claim, and settling twice writes the same.
    await this.table.updateEntity(
      { partitionKey: claimPartition(key.day), rowKey: claimRowKey(key), status, settledAt: at },
      'Merge',
    );
  }

  async claims(day: Day): Promise<ClaimInfo[]> {
    const all: ClaimInfo[] = [];
    const rows = this.table.listEntities<ClaimEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${claimPartition(day)}` },
    });
    for await (const row of rows) {
      all.push({
        day: row.day,
        id: row.id,
        phase: row.phase as PostPhase,
        kind: row.kind as PostKind,
        runId: row.runId,
        claimedAt: row.claimedAt,
        status: row.status as ClaimStatus,
        ...(row.settledAt === undefined ? {} : { settledAt: row.settledAt }),
      });
    }
    return all;
  }
}

function stored(json: string, etag: string): StoredAlert {
  // Only this adapter writes the rows, from records the lifecycle built.
  return { record: JSON.parse(json) as AlertRecord, version: etag };
}
