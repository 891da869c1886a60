import { odata, RestError, type TableClient } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import type { BudgetPeriod } from '../../domain/budgets/budgets.js';
import type { Spent } from '../../domain/budgets/state.js';
import { TransientError } from '../../domain/errors.js';
import type { BudgetSpendStore, BudgetStateSink, SpendAddition } from '../../ports/budget-spend.js';
import { tableKey } from './table-documents.js';

/** The batches an entity remembers: a redelivery comes back within a few batches, not hundreds. */
const REMEMBERED_BATCHES = 64;
const MAX_ATTEMPTS = 16;

/**
 * A random wait before trying again after losing a race for a scope's row: without it, writers
 * that lost together read and write together again, and under load some lose every round.
 * Up to 5 ms doubled each attempt, at most 250 ms (16 attempts wait under 3 s in all).
 */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(250, 5 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

interface SpendEntity {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly key: string;
  readonly nanos: number;
  readonly gpuMicros: number;
  /** JSON array of the last batch ids applied, newest last. */
  readonly batches: string;
}

const isStatus = (code: number, error: unknown): boolean =>
  error instanceof RestError && error.statusCode === code;
const partitionOf = (period: BudgetPeriod, name: string): string => `${period}-${name}`;

/**
 * Budget spend on Table Storage: one row per (period, scope), PartitionKey `day-2026-12-07` or
 * `month-2026-12`, RowKey the scope key percent-encoded (table-documents.ts). An addition reads
 * the row and replaces it If-Match its ETag (or inserts it, 409 when another instance did first),
 * and on a conflict reads again: concurrent instances never lose each other's additions. The row
 * keeps the ids of the last batches it applied, so a redelivered batch is not added twice. Card
 * claims are rows of partition `card`, inserted once. A closed day's exact figure is a row of
 * partition `exact-2026-12` (its month), RowKey `2026-12-07_` and the encoded scope key, upserted
 * whole: a day reported again replaces it.
 */
export class TableBudgetSpend implements BudgetSpendStore {
  constructor(private readonly table: TableClient) {}

  private ready: Promise<void> | undefined;

  private ensure(): Promise<void> {
    this.ready ??= this.table.createTable().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  async add(batchId: string, additions: readonly SpendAddition[]): Promise<void> {
    if (additions.length === 0) return;
    await this.ensure();
    for (const a of additions) await this.addOne(batchId, a);
  }

  private async addOne(batchId: string, a: SpendAddition): Promise<void> {
    const partitionKey = partitionOf(a.period, a.periodName);
    const rowKey = tableKey(a.key);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const current = await this.get(partitionKey, rowKey);
      const batches = current === undefined ? [] : (JSON.parse(current.entity.batches) as string[]);
      if (batches.includes(batchId)) return;
      const next: SpendEntity = {
        partitionKey,
        rowKey,
        key: a.key,
        nanos: (current?.entity.nanos ?? 0) + a.nanos,
        gpuMicros: (current?.entity.gpuMicros ?? 0) + a.gpuMicros,
        batches: JSON.stringify([...batches, batchId].slice(-REMEMBERED_BATCHES)),
      };
      try {
        if (current === undefined) await this.table.createEntity(next);
        else await this.table.updateEntity(next, 'Replace', { etag: current.etag });
        return;
      } catch (error) {
        if (!isStatus(409, error) && !isStatus(412, error)) throw error;
      }
      await backoff(attempt);
    }
    throw new TransientError(
      `budget spend ${partitionKey}/${a.key}: kept changing under ${MAX_ATTEMPTS} attempts`,
    );
  }

  private async get(
    partitionKey: string,
    rowKey: string,
  ): Promise<{ entity: SpendEntity; etag: string } | undefined> {
    try {
      const e = await this.table.getEntity<SpendEntity>(partitionKey, rowKey);
      return { entity: e, etag: e.etag };
    } catch (error) {
      if (isStatus(404, error)) return undefined;
      throw error;
    }
  }

  async read(period: BudgetPeriod, periodName: string, key: string): Promise<Spent> {
    await this.ensure();
    const got = await this.get(partitionOf(period, periodName), tableKey(key));
    return { nanos: got?.entity.nanos ?? 0, gpuMicros: got?.entity.gpuMicros ?? 0 };
  }

  async claimCard(id: string): Promise<boolean> {
    await this.ensure();
    try {
      await this.table.createEntity({ partitionKey: 'card', rowKey: tableKey(id), id });
      return true;
    } catch (error) {
      if (isStatus(409, error)) return false;
      throw error;
    }
  }

  async setExact(day: string, key: string, exact: Spent): Promise<void> {
    await this.ensure();
    await this.table.upsertEntity(
      {
        partitionKey: `exact-${day.slice(0, 7)}`,
        rowKey: `${day}_${tableKey(key)}`,
        key,
        day,
        nanos: exact.nanos,
        gpuMicros: exact.gpuMicros,
      },
      'Replace',
    );
  }

  async readPeriod(period: BudgetPeriod, periodName: string): Promise<ReadonlyMap<string, Spent>> {
    await this.ensure();
    const out = new Map<string, Spent>();
    const rows = this.table.listEntities<{ key: string; nanos: number; gpuMicros: number }>({
      queryOptions: {
        filter: odata`PartitionKey eq ${partitionOf(period, periodName)}`,
        select: ['key', 'nanos', 'gpuMicros'],
      },
    });
    for await (const r of rows) out.set(r.key, { nanos: r.nanos, gpuMicros: r.gpuMicros });
    return out;
  }

  async exactMonth(month: string): Promise<ReadonlyMap<string, ReadonlyMap<string, Spent>>> {
    await this.ensure();
    const out = new Map<string, Map<string, Spent>>();
    const rows = this.table.listEntities<{ key: string; day: string; nanos: number; gpuMicros: number }>({
      queryOptions: {
        filter: odata`PartitionKey eq ${`exact-${month}`}`,
        select: ['key', 'day', 'nanos', 'gpuMicros'],
      },
    });
    for await (const r of rows) {
      const days = out.get(r.key) ?? new Map<string, Spent>();
      days.set(r.day, { nanos: r.nanos, gpuMicros: r.gpuMicros });
      out.set(r.key, days);
    }
    return out;
  }
}

/** The state document as one blob (`state.json` in its container), replaced whole each time. */
export class BlobBudgetState implements BudgetStateSink {
  constructor(
    private readonly container: ContainerClient,
    private readonly name = 'state.json',
  ) {}

  private ready: Promise<unknown> | undefined;

  async write(text: string): Promise<void> {
    this.ready ??= this.container.createIfNotExists();
    await this.ready;
    await this.container.getBlockBlobClient(this.name).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: 'application/json', blobCacheControl: 'no-cache' },
    });
  }
}
