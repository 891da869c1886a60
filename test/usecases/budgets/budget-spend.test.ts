import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { TableBudgetSpend } from '../../../src/adapters/azure-storage/table-budget-spend.js';
import { MemoryBudgetSpend } from '../../../src/adapters/memory/memory-budget-spend.js';
import { MemoryLedger } from '../../../src/adapters/memory/memory-ledger.js';
import { parseBudgets } from '../../../src/domain/budgets/budgets.js';
import { parseBudgetState } from '../../../src/domain/budgets/state.js';
import type { TeamsMessage } from '../../../src/domain/drift/card.js';
import { publishBudgets } from '../../../src/usecases/budgets/publish-budgets.js';
import { ingestBatch, type DeliveredMessage } from '../../../src/usecases/ingest/ingest.js';
import { at, DAY, TEST_PRICES, usage } from '../../helpers/events.js';

const file = parseBudgets({
  budgets: [
    {
      scope: { tenant: 'acme' },
      period: 'day',
      limit: { usd: 0.05 },
      policy: 'refuse',
      thresholds: [0.8, 1],
    },
    { scope: { tenant: 'acme', feature: 'chat' }, period: 'month', limit: { gpuHours: 1 }, policy: 'alert' },
    { scope: { tenant: 'tenant|x' }, period: 'day', limit: { usd: 1 }, policy: 'refuse' },
  ],
});
const acmeDay = file.budgets[0]?.key ?? '';
const acmeMonth = file.budgets[1]?.key ?? '';
const hostile = file.budgets[2]?.key ?? '';

/** n messages of `tenant`, each a request of 10 GPU-seconds at $0.001 a GPU-second: $0.01. */
function messages(n: number, first: number, fields: Record<string, unknown> = {}): DeliveredMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    body: JSON.stringify(usage({ startedAt: at(10 + i), finishedAt: at(20 + i), ...fields })),
    partition: '0',
    sequenceNumber: first + i,
    enqueuedTime: at(100 + i),
  }));
}

describe('spend from ingest', () => {
  it("divides a request's held GPU time among the requests its pod worked on meanwhile, as the sidecar measured", async () => {
    const spend = new MemoryBudgetSpend();
    const deps = {
      ledger: new MemoryLedger(),
      prices: TEST_PRICES,
      now: () => new Date(`${DAY}T12:00:00Z`),
      budgets: { file, spend },
    };
    // Four requests of 10 s each, in flight together: a quarter each; one with an attribute that is
    // not a number (from another sender) is counted whole.
    await ingestBatch(messages(4, 0, { attributes: { meanConcurrency: '4.00' } }), deps);
    expect(await spend.read('day', DAY, acmeDay)).toEqual({ nanos: 10_000_000, gpuMicros: 10_000_000 });
    await ingestBatch(messages(1, 4, { attributes: { meanConcurrency: 'many' } }), deps);
    expect((await spend.read('day', DAY, acmeDay)).gpuMicros).toBe(20_000_000);
  });

  it('adds each newly accepted event once, redelivered batches included, to the budgets that cover it', async () => {
    const ledger = new MemoryLedger();
    const spend = new MemoryBudgetSpend();
    const deps = {
      ledger,
      prices: TEST_PRICES,
      now: () => new Date(`${DAY}T12:00:00Z`),
      budgets: { file, spend },
    };
    const batch = messages(3, 0);
    expect((await ingestBatch(batch, deps)).accepted).toBe(3);
    expect(await spend.read('day', DAY, acmeDay)).toEqual({ nanos: 30_000_000, gpuMicros: 30_000_000 });
    // Event Hubs delivers the batch again, and again cut differently with one new event.
    await ingestBatch(batch, deps);
    await ingestBatch([...batch.slice(1), ...messages(1, 3)], deps);
    expect(await spend.read('day', DAY, acmeDay)).toEqual({ nanos: 40_000_000, gpuMicros: 40_000_000 });
    expect((await spend.read('month', DAY.slice(0, 7), acmeMonth)).gpuMicros).toBe(40_000_000);
    // 'tenant' with feature 'x' is not the tenant named 'tenant|x'.
    await ingestBatch(messages(2, 4, { tenant: 'tenant', feature: 'x' }), deps);
    expect(await spend.read('day', DAY, hostile)).toEqual({ nanos: 0, gpuMicros: 0 });
    await ingestBatch(messages(2, 6, { tenant: 'tenant|x' }), deps);
    expect((await spend.read('day', DAY, hostile)).nanos).toBe(20_000_000);
  });
});

describe('publishing', () => {
  it('writes the state document and posts each threshold card once per period', async () => {
    const spend = new MemoryBudgetSpend();
    const posted: TeamsMessage[] = [];
    const notifier = { post: (m: TeamsMessage) => (posted.push(m), Promise.resolve()) };
    const now = { t: new Date(`${DAY}T12:00:00Z`) };
    const deps = { budgets: file, spend, sink: spend, notifier, now: () => now.t };
    await spend.add('b1', [
      { key: acmeDay, period: 'day', periodName: DAY, nanos: 42_000_000, gpuMicros: 1 },
    ]);
    const first = await publishBudgets(deps);
    expect(first.cards).toEqual([`day|${DAY}|${acmeDay}|0.8`]);
    const state = parseBudgetState(spend.state ?? '');
    expect(state.entries[0]).toMatchObject({
      over: false,
      crossed: [0.8],
      spentUsd: 0.042,
      resetsAt: '2026-11-23T00:00:00.000Z',
    });
    expect(JSON.stringify(posted[0])).toContain('Budget 80% reached: tenant acme');
    expect((await publishBudgets(deps)).cards).toEqual([]);
    await spend.add('b2', [
      { key: acmeDay, period: 'day', periodName: DAY, nanos: 10_000_000, gpuMicros: 1 },
    ]);
    expect((await publishBudgets(deps)).cards).toEqual([`day|${DAY}|${acmeDay}|1`]);
    expect(parseBudgetState(spend.state ?? '').entries[0]?.over).toBe(true);
    // The next day starts from nothing.
    now.t = new Date('2026-11-23T00:00:01Z');
    const next = await publishBudgets(deps);
    expect(next.state.entries[0]).toMatchObject({ over: false, spentUsd: 0, periodName: '2026-11-23' });
    expect(posted).toHaveLength(2);
  });
});

describe('publishing many budgets', () => {
  it("reads each partition once a publish, however many month budgets, with each scope's figure its own", async () => {
    const spend = new MemoryBudgetSpend();
    const many = parseBudgets({
      budgets: Array.from({ length: 40 }, (_, i) => ({
        scope: { tenant: `t${i}` },
        period: 'month',
        limit: { usd: 100 },
        policy: 'alert',
      })),
    });
    const closed = ['2026-11-20', '2026-11-21'];
    for (const [i, b] of many.budgets.entries()) {
      await spend.add('seed', [
        { key: b.key, period: 'month', periodName: '2026-11', nanos: 3e9 * (i + 1), gpuMicros: 0 },
        ...closed.map((day) => ({
          key: b.key,
          period: 'day' as const,
          periodName: day,
          nanos: 1e9 * (i + 1),
          gpuMicros: 0,
        })),
      ]);
      for (const day of closed) await spend.setExact(day, b.key, { nanos: 0.5e9 * (i + 1), gpuMicros: 0 });
    }
    const calls = { read: 0, readPeriod: 0, exactMonth: 0 };
    const counted = new Proxy(spend, {
      get(target, name, receiver) {
        if (typeof name === 'string' && name in calls) calls[name as keyof typeof calls] += 1;
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
    const published = await publishBudgets({
      budgets: many,
      spend: counted,
      sink: spend,
      now: () => new Date(`${DAY}T12:00:00Z`),
    });
    // The month (1) and each closed day (2): partitions, not budgets.
    expect(calls).toEqual({ read: 0, readPeriod: 3, exactMonth: 1 });
    // Each scope: its month estimate with its two closed days' estimates swapped for their exact figures.
    expect(published.state.entries.map((e) => e.spentUsd)).toEqual(many.budgets.map((_, i) => 2 * (i + 1)));
  });
});

describe('spend on Table Storage (Azurite)', () => {
  it('loses no concurrent addition, applies a batch once, and claims a card once', async () => {
    const table = TableClient.fromConnectionString(inject('azurite'), `spend${randomUUID().slice(0, 8)}`, {
      allowInsecureConnection: true,
    });
    const stores = Array.from({ length: 6 }, () => new TableBudgetSpend(table));
    const add = (i: number, batch: string): Promise<void> =>
      (stores[i % stores.length] ?? stores[0] ?? new TableBudgetSpend(table)).add(batch, [
        { key: hostile, period: 'day', periodName: DAY, nanos: 1000 + i, gpuMicros: 1 },
        { key: acmeDay, period: 'day', periodName: DAY, nanos: 7, gpuMicros: 2 },
      ]);
    await Promise.all(Array.from({ length: 24 }, (_, i) => add(i, `batch-${i}`)));
    await Promise.all([add(0, 'batch-0'), add(1, 'batch-1')]);
    const expected = Array.from({ length: 24 }, (_, i) => 1000 + i).reduce((a, b) => a + b, 0);
    expect(await stores[0]?.read('day', DAY, hostile)).toEqual({ nanos: expected, gpuMicros: 24 });
    expect(await stores[1]?.read('day', DAY, acmeDay)).toEqual({ nanos: 7 * 24, gpuMicros: 48 });
    expect(await stores[2]?.read('day', '2026-11-23', acmeDay)).toEqual({ nanos: 0, gpuMicros: 0 });
    const claims = await Promise.all(stores.map((s) => s.claimCard(`day|${DAY}|${hostile}|1`)));
    expect(claims.filter(Boolean)).toHaveLength(1);
  }, 60_000);
});

describe("a period's and a month's figures read whole, on both stores", () => {
  const stores = {
    memory: () => new MemoryBudgetSpend(),
    table: () =>
      new TableBudgetSpend(
        TableClient.fromConnectionString(inject('azurite'), `whole${randomUUID().slice(0, 8)}`, {
          allowInsecureConnection: true,
        }),
      ),
  };
  for (const [name, make] of Object.entries(stores))
    it(`${name}: every scope of the partition asked, by key, and nothing of another`, async () => {
      const spend = make();
      await spend.add('b1', [
        { key: acmeDay, period: 'day', periodName: DAY, nanos: 5, gpuMicros: 1 },
        { key: hostile, period: 'day', periodName: DAY, nanos: 9, gpuMicros: 2 },
        { key: acmeDay, period: 'day', periodName: '2026-03-02', nanos: 100, gpuMicros: 100 },
        { key: acmeMonth, period: 'month', periodName: DAY.slice(0, 7), nanos: 14, gpuMicros: 3 },
      ]);
      await spend.setExact(DAY, acmeDay, { nanos: 4, gpuMicros: 1 });
      await spend.setExact(DAY, hostile, { nanos: 8, gpuMicros: 2 });
      await spend.setExact('2026-04-01', acmeDay, { nanos: 1, gpuMicros: 1 });
      expect(await spend.readPeriod('day', DAY)).toEqual(
        new Map([
          [acmeDay, { nanos: 5, gpuMicros: 1 }],
          [hostile, { nanos: 9, gpuMicros: 2 }],
        ]),
      );
      expect(await spend.readPeriod('month', DAY.slice(0, 7))).toEqual(
        new Map([[acmeMonth, { nanos: 14, gpuMicros: 3 }]]),
      );
      expect(await spend.readPeriod('day', '2026-03-03')).toEqual(new Map());
      expect(await spend.exactMonth(DAY.slice(0, 7))).toEqual(
        new Map([
          [acmeDay, new Map([[DAY, { nanos: 4, gpuMicros: 1 }]])],
          [hostile, new Map([[DAY, { nanos: 8, gpuMicros: 2 }]])],
        ]),
      );
    });
});
