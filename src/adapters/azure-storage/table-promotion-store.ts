import { createHash } from 'node:crypto';
import { RestError, type TableClient } from '@azure/data-tables';
import type { PromotionVerdict } from '../../domain/promotion/decide.js';
import { decisionKey, type PromotionStore } from '../../ports/promotion-store.js';
import { storedJson } from '../../ports/stored-records.js';
import { tableKey, textOf, textProperties } from './table-documents.js';

const LATEST = 'latest';

/**
 * The promotion store in one Azure Storage table: partition = the model (tableKey), a row per
 * decision (RowKey `d-` and the SHA-256 of decisionKey) created only if absent, so the first writer
 * of a decision is the one that learns it is new, and the row `latest` replaced by every verdict
 * (unless it holds a later one). Each row keeps the verdict's JSON. Other storage errors are rethrown for the caller's retry.
 */
export class TablePromotionStore implements PromotionStore {
  constructor(private readonly table: TableClient) {}

  async ensure(): Promise<void> {
    await this.table.createTable();
  }

  async record(verdict: PromotionVerdict): Promise<boolean> {
    const partitionKey = tableKey(verdict.model);
    const json = storedJson(`promotion verdict of ${verdict.model}`, verdict);
    const hash = createHash('sha256').update(decisionKey(verdict)).digest('hex');
    let isNew = true;
    try {
      await this.table.createEntity({ partitionKey, rowKey: `d-${hash}`, ...textProperties('json', json) });
    } catch (error) {
      if (!(error instanceof RestError && error.statusCode === 409)) throw error;
      isNew = false;
    }
    // An older verdict arriving late does not hide a newer one.
    const stored = await this.latest(verdict.model);
    if (stored === undefined || stored.decidedAt <= verdict.decidedAt)
      await this.table.upsertEntity(
        { partitionKey, rowKey: LATEST, ...textProperties('json', json) },
        'Replace',
      );
    return isNew;
  }

  async latest(model: string): Promise<PromotionVerdict | undefined> {
    try {
      const row = await this.table.getEntity(tableKey(model), LATEST);
      // Only this adapter writes the rows, from verdicts it was given whole.
      return JSON.parse(textOf(row, 'json')) as PromotionVerdict;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }
}
