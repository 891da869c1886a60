import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { MemoryPromotionStore } from '../../src/adapters/memory/memory-promotion-store.js';
import { TablePromotionStore } from '../../src/adapters/azure-storage/table-promotion-store.js';
import type { PromotionStore } from '../../src/ports/promotion-store.js';
import { verdict } from '../helpers/promotion.js';

function contract(name: string, make: () => Promise<PromotionStore>): void {
  describe(`PromotionStore: ${name}`, () => {
    it('has no verdict for a model before one is recorded', async () => {
      expect(await (await make()).latest('llama-3.1-8b-instruct')).toBeUndefined();
    });

    it('keeps the last verdict per model, and a decision once', async () => {
      const store = await make();
      expect(await store.record(verdict())).toBe(true);
      // The same decision on the same evidence, decided again later: not new, but the latest.
      const again = verdict({ decidedAt: '2026-03-02T03:00:00.000Z' });
      expect(await store.record(again)).toBe(false);
      expect(await store.latest('llama-3.1-8b-instruct')).toEqual(again);
      const promoted = verdict({ decision: 'promote', reasons: [], decidedAt: '2026-03-02T04:00:00.000Z' });
      expect(await store.record(promoted)).toBe(true);
      expect(await store.latest('llama-3.1-8b-instruct')).toEqual(promoted);
      expect(await store.latest('qwen2.5-14b-instruct')).toBeUndefined();
    });

    it('does not let an older verdict arriving late hide a newer one', async () => {
      const store = await make();
      const newer = verdict({ decision: 'promote', reasons: [], decidedAt: '2026-03-02T04:00:00.000Z' });
      await store.record(newer);
      expect(await store.record(verdict({ decidedAt: '2026-03-01T00:00:00.000Z' }))).toBe(true);
      expect(await store.latest('llama-3.1-8b-instruct')).toEqual(newer);
    });

    it('keeps models apart, whatever characters their names hold', async () => {
      const store = await make();
      await store.record(verdict({ model: 'a/b#c?' }));
      await store.record(verdict({ model: 'a' }));
      expect((await store.latest('a/b#c?'))?.model).toBe('a/b#c?');
      expect((await store.latest('a'))?.model).toBe('a');
    });
  });
}

contract('memory', () => Promise.resolve(new MemoryPromotionStore()));

contract('table (Azurite)', async () => {
  const name = `promotions${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const table = TableClient.fromConnectionString(inject('azurite'), name, { allowInsecureConnection: true });
  const store = new TablePromotionStore(table);
  await store.ensure();
  return store;
});
