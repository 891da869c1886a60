import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import type { AlertState } from '../../src/domain/drift/lifecycle.js';
import type { AlertStore } from '../../src/ports/alert-store.js';
import { MemoryAlertStore } from '../../src/adapters/memory/memory-alert-store.js';
import { TableAlertStore } from '../../src/adapters/azure-storage/table-alert-store.js';
import { DAY, DAY_AFTER } from '../helpers/events.js';

async function tableStore(): Promise<AlertStore> {
  const name = `alerts${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const store = new TableAlertStore(
    TableClient.fromConnectionString(inject('azurite'), name, { allowInsecureConnection: true }),
  );
  await store.ensure();
  return store;
}

// Ids carry tenant and feature names: characters a Table row key may not hold must still work.
const ID = 'costPer1k:tenant/with#odd?chars\\and "quotes"/chat/llama/interactive';

function state(id: string, day: string): AlertState {
  return {
    id,
    rule: 'costPer1k',
    status: 'open',
    alert: {
      id,
      rule: 'costPer1k',
      severity: 'warning',
      scope: { tenant: 'tenant/with#odd?chars' },
      metric: 'costPer1kTokensUsd',
      value: 2,
      baseline: 1,
      threshold: 1.5,
      message: 'cost per 1k tokens doubled',
    },
    openedOn: day,
    lastPostedOn: day,
    lastPostedSeverity: 'warning',
    lastPostedValue: 2,
    lastSeenOn: day,
  };
}

describe.each([
  ['memory', (): Promise<AlertStore> => Promise.resolve(new MemoryAlertStore())],
  ['Table Storage (Azurite)', tableStore],
])('the alert store on %s', (_name, make) => {
  it('keeps the last state saved per id, ids with characters row keys forbid included', async () => {
    const store = await make();
    expect(await store.states()).toEqual([]);
    await store.save([state(ID, DAY), state('other', DAY)]);
    await store.save([{ ...state(ID, DAY_AFTER), status: 'resolved' }]);
    const byId = new Map((await store.states()).map((s) => [s.id, s]));
    expect(byId.size).toBe(2);
    expect(byId.get(ID)).toEqual({ ...state(ID, DAY_AFTER), status: 'resolved' });
    expect(byId.get('other')).toEqual(state('other', DAY));
  });

  it('grants a claim to the first caller only, per day, id and kind', async () => {
    const store = await make();
    expect(await store.claim(DAY, ID, 'raised')).toBe(true);
    expect(await store.claim(DAY, ID, 'raised')).toBe(false);
    expect(await store.claim(DAY, ID, 'resolved')).toBe(true);
    expect(await store.claim(DAY_AFTER, ID, 'raised')).toBe(true);
    expect(await store.claim(DAY, 'other', 'raised')).toBe(true);
  });

  it('grants a claim to exactly one of many concurrent callers', async () => {
    const store = await make();
    const results = await Promise.all(Array.from({ length: 8 }, () => store.claim(DAY, ID, 'worse')));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
