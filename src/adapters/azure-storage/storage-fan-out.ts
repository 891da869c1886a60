import { randomUUID } from 'node:crypto';
import { RestError, type TableClient } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import type {
  FanInEnd,
  FanOutMessage,
  FanOutStore,
  Json,
  JobRecord,
  RoundSpec,
  StoredJob,
  WorkQueue,
} from '../../ports/fan-out.js';

/** The job's row: its record as JSON, two columns for a person reading the table, and blob names. */
interface JobRow {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly record: string;
  readonly phase: string;
  readonly round: number;
  /** Blob names: `plan`, `round_<index>` for each committed round, `outcome` once done. */
  readonly [blob: string]: string | number;
}

const ROW = 'job';
const RESULT_READS = 16;
// A job's plan is read by every unit message (megabytes, never changed once named): keep the last few.
const PLANS_KEPT = 2;
const ROUNDS_KEPT = 16;

/**
 * The fan-out store on Azure Storage: one Table row per job holds its record, replaced only under
 * its ETag (so of two claims, or a commit and a takeover, one wins); plan, round specs, results and
 * outcome are blobs. What a row points to (plan, round spec, outcome) is written first under a fresh
 * name; a result goes under its (job, round, unit) name with If-None-Match: *, so the first write
 * wins and a repeated unit stores nothing.
 *
 * A job's rounds are properties of its row, so a job has at most about 240 rounds (252 properties).
 * Job ids are [A-Za-z0-9._-] (the use case checks), valid as a PartitionKey and a blob folder; unit
 * ids are base64url in blob names, which holds any text and no '/' or '%'.
 */
export class StorageFanOutStore implements FanOutStore {
  private readonly plans = new Map<string, Json>();
  private readonly specs = new Map<string, RoundSpec>();

  constructor(
    private readonly table: TableClient,
    private readonly container: ContainerClient,
  ) {}

  async ensure(): Promise<void> {
    await this.table.createTable();
    await this.container.createIfNotExists();
  }

  async create(job: string, plan: Json, first: RoundSpec, record: JobRecord): Promise<string | undefined> {
    const planBlob = `${job}/plan-${randomUUID()}.json`;
    const roundBlob = `${job}/rounds/0/spec-${randomUUID()}.json`;
    await Promise.all([this.write(planBlob, plan), this.write(roundBlob, first)]);
    try {
      const created = await this.table.createEntity<JobRow>({
        ...this.row(job, record),
        plan: planBlob,
        round_0: roundBlob,
      });
      return created.etag ?? '';
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 409) return undefined;
      throw error;
    }
  }

  async job(job: string): Promise<StoredJob | undefined> {
    const row = await this.readRow(job);
    return row === undefined ? undefined : { record: JSON.parse(row.record) as JobRecord, version: row.etag };
  }

  async plan(job: string): Promise<Json> {
    return this.cached(this.plans, PLANS_KEPT, await this.blobOf(job, 'plan'), (name) => this.read(name));
  }

  async round(job: string, index: number): Promise<RoundSpec> {
    const name = await this.blobOf(job, `round_${index}`);
    return this.cached(
      this.specs,
      ROUNDS_KEPT,
      name,
      async (n) => (await this.read(n)) as unknown as RoundSpec,
    );
  }

  async putResult(job: string, round: number, unit: string, result: Json): Promise<'stored' | 'exists'> {
    try {
      await this.write(resultBlob(job, round, unit), result, { ifNoneMatch: '*' });
      return 'stored';
    } catch (error) {
      if (error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412))
        return 'exists';
      throw error;
    }
  }

  hasResult(job: string, round: number, unit: string): Promise<boolean> {
    return this.container.getBlobClient(resultBlob(job, round, unit)).exists();
  }

  async resultUnits(job: string, round: number): Promise<string[]> {
    const prefix = resultBlob(job, round, '');
    const units: string[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix })) {
      units.push(Buffer.from(blob.name.slice(prefix.length, -'.json'.length), 'base64url').toString('utf8'));
    }
    return units;
  }

  async results(job: string, round: number): Promise<Map<string, Json>> {
    const units = await this.resultUnits(job, round);
    const results = new Map<string, Json>();
    let next = 0;
    const reader = async (): Promise<void> => {
      while (next < units.length) {
        const unit = units[next++];
        if (unit !== undefined) results.set(unit, await this.read(resultBlob(job, round, unit)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(RESULT_READS, units.length) }, reader));
    return results;
  }

  update(job: string, expected: string, record: JobRecord): Promise<string | undefined> {
    return this.replace(job, expected, record, {});
  }

  async commit(job: string, expected: string, record: JobRecord, end: FanInEnd): Promise<string | undefined> {
    if ('next' in end) {
      const name = `${job}/rounds/${record.round}/spec-${randomUUID()}.json`;
      await this.write(name, end.next);
      return this.replace(job, expected, record, { [`round_${record.round}`]: name });
    }
    const name = `${job}/outcome-${randomUUID()}.json`;
    await this.write(name, end.outcome);
    return this.replace(job, expected, record, { outcome: name });
  }

  async outcome(job: string): Promise<Json | undefined> {
    const name = (await this.readRow(job))?.outcome;
    return typeof name === 'string' ? this.read(name) : undefined;
  }

  /** Merges the record (and blob names) into the row if its ETag is still `expected`. */
  private async replace(
    job: string,
    expected: string,
    record: JobRecord,
    blobs: Record<string, string>,
  ): Promise<string | undefined> {
    try {
      const done = await this.table.updateEntity({ ...this.row(job, record), ...blobs }, 'Merge', {
        etag: expected,
      });
      return done.etag ?? '';
    } catch (error) {
      if (error instanceof RestError && (error.statusCode === 412 || error.statusCode === 404))
        return undefined;
      throw error;
    }
  }

  private row(job: string, record: JobRecord): JobRow {
    return {
      partitionKey: job,
      rowKey: ROW,
      record: JSON.stringify(record),
      phase: record.phase,
      round: record.round,
    };
  }

  private async readRow(job: string): Promise<(JobRow & { etag: string }) | undefined> {
    try {
      return await this.table.getEntity<JobRow>(job, ROW);
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  private async blobOf(job: string, property: string): Promise<string> {
    const name = (await this.readRow(job))?.[property];
    if (typeof name !== 'string') throw new Error(`fan-out job ${job} has no ${property}`);
    return name;
  }

  private async cached<T>(
    cache: Map<string, T>,
    kept: number,
    name: string,
    read: (n: string) => Promise<T>,
  ): Promise<T> {
    const hit = cache.get(name);
    if (hit !== undefined) return structuredClone(hit);
    const value = await read(name);
    cache.set(name, value);
    for (const old of cache.keys()) if (cache.size > kept) cache.delete(old);
    return structuredClone(value);
  }

  private async write(name: string, value: unknown, conditions?: { ifNoneMatch: string }): Promise<void> {
    const body = Buffer.from(JSON.stringify(value), 'utf8');
    await this.container.getBlockBlobClient(name).upload(body, body.length, {
      blobHTTPHeaders: { blobContentType: 'application/json' },
      ...(conditions === undefined ? {} : { conditions }),
    });
  }

  private async read(name: string): Promise<Json> {
    const bytes = await this.container.getBlobClient(name).downloadToBuffer();
    return JSON.parse(bytes.toString('utf8')) as Json;
  }
}

function resultBlob(job: string, round: number, unit: string): string {
  const folder = `${job}/rounds/${round}/results/`;
  return unit === '' ? folder : `${folder}${Buffer.from(unit, 'utf8').toString('base64url')}.json`;
}

const SEND_CONCURRENCY = 8;
// A message lives 7 days by default and must become visible before it expires.
const MAX_DELAY_S = 6 * 24 * 3600;

/**
 * The work queue on an Azure Storage queue. Messages are JSON, base64-encoded, as the Functions
 * queue trigger decodes them by default (host.json `extensions.queues.messageEncoding`); a delay is
 * the message's initial visibility timeout, in whole seconds.
 */
export class StorageWorkQueue implements WorkQueue {
  constructor(private readonly queue: QueueClient) {}

  async ensure(): Promise<void> {
    await this.queue.createIfNotExists();
  }

  async send(messages: readonly FanOutMessage[], delayMs = 0): Promise<void> {
    const delay = Math.min(MAX_DELAY_S, Math.ceil(delayMs / 1000));
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < messages.length) {
        const message = messages[next++];
        if (message === undefined) continue;
        await this.queue.sendMessage(
          encodeFanOutMessage(message),
          delay > 0 ? { visibilityTimeout: delay } : {},
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, messages.length) }, sender));
  }
}

export function encodeFanOutMessage(message: FanOutMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}
