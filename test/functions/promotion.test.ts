import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { makeGetPromotion } from '../../functions/getPromotion.js';
import { MemoryPromotionStore } from '../../src/adapters/memory/memory-promotion-store.js';
import { verdict } from '../helpers/promotion.js';

async function get(store: MemoryPromotionStore, model: string) {
  const handler = makeGetPromotion(() => Promise.resolve({ store }));
  return handler(
    new HttpRequest({ method: 'GET', url: `http://localhost/api/promotions/${model}`, params: { model } }),
    new InvocationContext(),
  );
}

describe('GET /api/promotions/{model}', () => {
  it('is 404 for a model with no verdict, 409 with the reasons on hold, 200 on promote', async () => {
    const store = new MemoryPromotionStore();
    expect((await get(store, 'llama-3.1-8b-instruct')).status).toBe(404);
    await store.record(verdict());
    const held = await get(store, 'llama-3.1-8b-instruct');
    expect(held.status).toBe(409);
    expect(held.jsonBody).toMatchObject({ decision: 'hold', reasons: ['cost gate: up 9% > 5%'] });
    expect(held.headers).toMatchObject({ 'cache-control': 'no-store' });
    await store.record(verdict({ decision: 'promote', reasons: [], decidedAt: '2026-03-02T04:00:00.000Z' }));
    const promoted = await get(store, 'llama-3.1-8b-instruct');
    expect(promoted.status).toBe(200);
    expect(promoted.jsonBody).toMatchObject({ decision: 'promote', candidateVersion: '8' });
  });

  it('is 400 for a model name that is empty or too long', async () => {
    const store = new MemoryPromotionStore();
    expect((await get(store, '')).status).toBe(400);
    expect((await get(store, 'm'.repeat(257))).status).toBe(400);
  });
});
