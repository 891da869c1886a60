import { createHash } from 'node:crypto';
import { RestError, type TableClient } from '@azure/data-tables';
import type { AlertState, PostKind } from '../../domain/drift/lifecycle.js';
import type { AlertStore } from '../../ports/alert-store.js';

const STATE = 'alert';
const CLAIM = 'alertpost';

/**
 * Alert states and post claims in a Table: partition `alert` (one row per alert id) and partition
 * `alertpost` (one row per post made). A claim is an insert, which Table Storage refuses with 409
 * when the row exists, so of any number of concurrent runs exactly one creates it.
 */
export class TableAlertStore implements AlertStore {
  constructor(private readonly table: TableClient) {}

  async ensure(): Promise<void> {
    await this.table.createTable();
  }

  async states(): Promise<AlertState[]> {
    const states: AlertState[] = [];
    const rows = this.table.listEntities<{ state: string }>({
      queryOptions: { filter: `PartitionKey eq '${STATE}'` },
    });
    for await (const row of rows) states.push(JSON.parse(row.state) as AlertState);
    return states;
  }

  async save(states: readonly AlertState[]): Promise<void> {
    // Table properties hold 64 KiB of text; a state is one alert (a few hundred bytes to a few KiB).
    for (const state of states) {
      await this.table.upsertEntity(
        { partitionKey: STATE, rowKey: rowKey(state.id), state: JSON.stringify(state) },
        'Replace',
      );
    }
  }

  async claim(day: string, id: string, kind: PostKind): Promise<boolean> {
    try {
      await this.table.createEntity({
        partitionKey: CLAIM,
        rowKey: rowKey(`${day}|${kind}|${id}`),
        day,
        kind,
        id,
      });
      return true;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 409) return false;
      throw error;
    }
  }
}

/**
 * Row keys may not hold / \ # ? or control characters and are at most 1 KiB: alert ids carry
 * tenant and feature names, so the key is a digest of the id (the id itself is in the row).
 */
function rowKey(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
