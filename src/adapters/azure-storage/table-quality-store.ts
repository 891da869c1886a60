import { odata, RestError, type TableClient } from '@azure/data-tables';
import type { Evaluation } from '../../domain/gate/verdict.js';
import type { DeadLetter } from '../../ports/ledger.js';
import type { QualityStore, StoredVerdict } from '../../ports/quality-store.js';
import { deadLetterOrder, evaluationOrder, storedJson } from '../../ports/stored-records.js';
import { bytesOf, bytesProperties, tableKey, textOf, textProperties } from './table-documents.js';

const MODELS = 'model';
const DEAD_LETTERS = 'deadletter';
const VERDICTS = 'verdict';
const evaluationPartition = (model: string): string => `eval:${tableKey(model)}`;
const deadLetterRow = (l: Pick<DeadLetter, 'partition' | 'sequenceNumber'>): string =>
  `${tableKey(l.partition)}|${String(l.sequenceNumber).padStart(20, '0')}`;

// Creates in flight at once while adding evaluations: a batch is a few dozen at most.
const PARALLEL = 16;

type Row = Record<string, unknown> & { partitionKey: string; rowKey: string };

/**
 * The quality store in one Azure Storage table: a partition per model of evaluations (RowKey: the
 * eventId), a row per model in partition `model` (so models() reads one small partition), dead
 * letters in `deadletter`, the last verdict per model in `verdict`. Records are kept as their JSON
 * (see src/ports/stored-records.ts for the size bound and -0).
 *
 * Evaluations are written one create at a time, not in batch transactions: a transaction fails
 * whole when one of its entities exists, and a redelivered batch, the case idempotence is for, is
 * exactly that. A create answered 409 was already there and does not count as new. Storage errors
 * other than those are rethrown as they are: isTransient (src/usecases/retry.ts) reads their
 * status (5xx, 408, 429) and network codes, as for the other Table adapters.
 */
export class TableQualityStore implements QualityStore {
  /** Models whose row this instance has created or found: rows are never deleted, so once is enough. */
  private readonly knownModels = new Set<string>();

  constructor(private readonly table: TableClient) {}

  /** Creates the table when it does not exist yet. */
  async ensure(): Promise<void> {
    await this.table.createTable();
  }

  /** Throws a PermanentError, having written nothing, when one evaluation is too large to keep. */
  async addEvaluations(evaluations: readonly Evaluation[]): Promise<number> {
    const rows = firstOfEach(evaluations).map((e) => ({
      partitionKey: evaluationPartition(e.model),
      rowKey: tableKey(e.eventId),
      ...textProperties('json', storedJson(`evaluation ${e.eventId} of model ${e.model}`, e)),
    }));
    let added = 0;
    for (let i = 0; i < rows.length; i += PARALLEL) {
      const created = await Promise.all(rows.slice(i, i + PARALLEL).map((row) => this.createIfAbsent(row)));
      added += created.filter(Boolean).length;
    }
    // After the evaluations, and on every call: a crash before this line leaves the batch
    // unacknowledged, and its redelivery (0 new) still writes the rows.
    await Promise.all(
      [...new Set(evaluations.map((e) => e.model))].map((model) => this.rememberModel(model)),
    );
    return added;
  }

  async evaluations(model: string): Promise<Evaluation[]> {
    const rows = await this.partition(evaluationPartition(model));
    return rows.map((row) => JSON.parse(textOf(row, 'json')) as Evaluation).sort(evaluationOrder);
  }

  async models(): Promise<string[]> {
    const rows = await this.partition(MODELS);
    return rows.map((row) => JSON.parse(textOf(row, 'json')) as string).sort();
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    // The body as bytes: raw text can hold any character, and JSON would make a body of control
    // characters six times longer. DEAD_LETTER_BODY_BYTES (256 KiB) keeps the entity under 1 MiB.
    const rows = letters.map(({ body, ...fields }) => {
      const utf8 = Buffer.from(body, 'utf8');
      // UTF-8 cannot hold a lone surrogate: such a body is kept as its UTF-16 code units instead.
      const encoding = utf8.toString('utf8') === body ? 'utf8' : 'utf16le';
      return {
        partitionKey: DEAD_LETTERS,
        rowKey: deadLetterRow(fields),
        ...textProperties('letter', JSON.stringify(fields)),
        ...bytesProperties('body', encoding === 'utf8' ? utf8 : Buffer.from(body, 'utf16le')),
        bodyEncoding: encoding,
      };
    });
    // One at a time, so a letter repeated within the call finds its first copy and keeps it.
    for (const row of rows) await this.createIfAbsent(row);
  }

  async deadLetters(): Promise<DeadLetter[]> {
    const rows = await this.partition(DEAD_LETTERS);
    return rows
      .map((row) => {
        const encoding = row.bodyEncoding === 'utf16le' ? 'utf16le' : 'utf8';
        const fields = JSON.parse(textOf(row, 'letter')) as Omit<DeadLetter, 'body'>;
        return { ...fields, body: bytesOf(row, 'body').toString(encoding) };
      })
      .sort(deadLetterOrder);
  }

  async lastVerdict(model: string): Promise<StoredVerdict | undefined> {
    try {
      const row = await this.table.getEntity(VERDICTS, tableKey(model));
      return JSON.parse(textOf(row, 'json')) as StoredVerdict;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async saveVerdict(model: string, verdict: StoredVerdict): Promise<void> {
    const json = storedJson(`verdict of model ${model}`, verdict);
    // Replace, not Merge: a shorter verdict must not keep the parts of a longer one.
    await this.table.upsertEntity(
      { partitionKey: VERDICTS, rowKey: tableKey(model), ...textProperties('json', json) },
      'Replace',
    );
  }

  private async rememberModel(model: string): Promise<void> {
    if (this.knownModels.has(model)) return;
    await this.createIfAbsent({
      partitionKey: MODELS,
      rowKey: tableKey(model),
      ...textProperties('json', JSON.stringify(model)),
    });
    this.knownModels.add(model);
  }

  /** True when this call created the row, false when it was already there. */
  private async createIfAbsent(row: Row): Promise<boolean> {
    try {
      await this.table.createEntity(row);
      return true;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 409) return false;
      throw error;
    }
  }

  private async partition(partitionKey: string): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    const entities = this.table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
    });
    for await (const row of entities) rows.push(row);
    return rows;
  }
}

/** The first evaluation of each (model, eventId): the one a store that adds them in order keeps. */
function firstOfEach(evaluations: readonly Evaluation[]): Evaluation[] {
  const seen = new Set<string>();
  return evaluations.filter((e) => {
    const key = JSON.stringify([e.model, e.eventId]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
