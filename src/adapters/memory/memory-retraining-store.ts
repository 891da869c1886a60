import { EMPTY_STATE, type JobRecord, type RetrainingState } from '../../domain/retrain/record.js';
import type { RetrainingStore, Versioned, WriteOutcome } from '../../ports/retraining-store.js';
import { jobOrder, storedJson } from '../../ports/stored-records.js';

interface Kept {
  readonly json: string;
  readonly version: string;
}

/**
 * The retraining store in memory, for tests and the command line: records kept as their JSON, as
 * the Table adapter keeps them (so the same size bound, see src/ports/stored-records.ts), versions
 * from a counter. Every method yields once before it acts, so two deciders racing interleave at
 * their awaits as they would against Table Storage, and exactly one of two writes at one version
 * wins.
 */
export class MemoryRetrainingStore implements RetrainingStore {
  private kept: Kept | undefined;
  private readonly jobRows = new Map<string, Kept>();
  private counter = 0;

  async state(): Promise<Versioned<RetrainingState>> {
    await Promise.resolve();
    return this.kept === undefined ? { value: EMPTY_STATE, version: undefined } : versioned(this.kept);
  }

  /** Throws a PermanentError, having kept nothing, when the state is too large to keep. */
  async putState(state: RetrainingState, expected: string | undefined): Promise<WriteOutcome> {
    await Promise.resolve();
    const json = storedJson('retraining state', state);
    if (this.kept?.version !== expected) return 'conflict';
    this.kept = this.next(json);
    return 'written';
  }

  async job(name: string): Promise<Versioned<JobRecord> | undefined> {
    await Promise.resolve();
    const row = this.jobRows.get(name);
    return row === undefined ? undefined : versioned(row);
  }

  /** Throws a PermanentError, having kept nothing, when the record is too large to keep. */
  async putJob(record: JobRecord, expected: string | undefined): Promise<WriteOutcome> {
    await Promise.resolve();
    const json = storedJson(`job ${record.name}`, record);
    if (this.jobRows.get(record.name)?.version !== expected) return 'conflict';
    this.jobRows.set(record.name, this.next(json));
    return 'written';
  }

  async jobs(): Promise<JobRecord[]> {
    await Promise.resolve();
    return [...this.jobRows.values()].map((row) => JSON.parse(row.json) as JobRecord).sort(jobOrder);
  }

  private next(json: string): Kept {
    this.counter += 1;
    return { json, version: String(this.counter) };
  }
}

function versioned<T>(row: Kept): Versioned<T> {
  return { value: JSON.parse(row.json) as T, version: row.version };
}
