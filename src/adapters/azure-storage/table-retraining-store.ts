import { odata, RestError, type TableClient } from '@azure/data-tables';
import { EMPTY_STATE, type JobRecord, type RetrainingState } from '../../domain/retrain/record.js';
import type { RetrainingStore, Versioned, WriteOutcome } from '../../ports/retraining-store.js';
import { jobOrder, storedJson } from '../../ports/stored-records.js';
import { tableKey, textOf, textProperties } from './table-documents.js';

const STATE = 'state';
const JOBS = 'job';

type Row = Record<string, unknown> & { partitionKey: string; rowKey: string };

/**
 * The retraining store in one Azure Storage table: the shared state as the one entity
 * (`state`, `state`), and a job record per row of partition `job` (RowKey: the job name). Each is
 * kept as its JSON, spread over as many string properties as it needs (a state of many models and
 * months outgrows one), up to the bound of src/ports/stored-records.ts. Versions are ETags: a write
 * with `expected` replaces only that ETag (412 otherwise), one without creates only (409 otherwise).
 * Other storage errors are rethrown as they are, for isTransient (src/usecases/retry.ts) to judge.
 */
export class TableRetrainingStore implements RetrainingStore {
  constructor(private readonly table: TableClient) {}

  /** Creates the table when it does not exist yet. */
  async ensure(): Promise<void> {
    await this.table.createTable();
  }

  async state(): Promise<Versioned<RetrainingState>> {
    return (await this.read<RetrainingState>(STATE, STATE)) ?? { value: EMPTY_STATE, version: undefined };
  }

  /** Throws a PermanentError, having written nothing, when the state is too large to keep. */
  async putState(state: RetrainingState, expected: string | undefined): Promise<WriteOutcome> {
    const json = storedJson('retraining state', state);
    return this.put({ partitionKey: STATE, rowKey: STATE, ...textProperties('json', json) }, expected);
  }

  async job(name: string): Promise<Versioned<JobRecord> | undefined> {
    return this.read<JobRecord>(JOBS, tableKey(name));
  }

  /** Throws a PermanentError, having written nothing, when the record is too large to keep. */
  async putJob(record: JobRecord, expected: string | undefined): Promise<WriteOutcome> {
    const json = storedJson(`job ${record.name}`, record);
    return this.put(
      { partitionKey: JOBS, rowKey: tableKey(record.name), ...textProperties('json', json) },
      expected,
    );
  }

  async jobs(): Promise<JobRecord[]> {
    const records: JobRecord[] = [];
    const rows = this.table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${JOBS}` },
    });
    for await (const row of rows) records.push(JSON.parse(textOf(row, 'json')) as JobRecord);
    return records.sort(jobOrder);
  }

  private async read<T>(partitionKey: string, rowKey: string): Promise<Versioned<T> | undefined> {
    try {
      const row = await this.table.getEntity(partitionKey, rowKey);
      // Only this adapter writes the rows, from values it was given whole.
      return { value: JSON.parse(textOf(row, 'json')) as T, version: row.etag };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  private async put(row: Row, expected: string | undefined): Promise<WriteOutcome> {
    try {
      // Replace, not Merge: a shorter JSON must not keep the parts of a longer one.
      if (expected === undefined) await this.table.createEntity(row);
      else await this.table.updateEntity(row, 'Replace', { etag: expected });
      return 'written';
    } catch (error) {
      // 409: created meanwhile; 412: replaced meanwhile; 404: the expected row is gone.
      if (error instanceof RestError && [409, 412, 404].includes(error.statusCode ?? 0)) return 'conflict';
      throw error;
    }
  }
}
