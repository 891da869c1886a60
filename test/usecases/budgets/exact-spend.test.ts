import { randomUUID } from 'node:crypto';
import type { Spent } from '../../../src/domain/budgets/state.js';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { TableBudgetSpend } from '../../../src/adapters/azure-storage/table-budget-spend.js';
import { MemoryBudgetSpend } from '../../../src/adapters/memory/memory-budget-spend.js';
import { MemoryLedger } from '../../../src/adapters/memory/memory-ledger.js';
import { parseBudgets, type Budget } from '../../../src/domain/budgets/budgets.js';
import type { ExactCost } from '../../../src/domain/budgets/exact.js';
import { NO_EXACT_SPEND } from '../../../src/domain/metrics/metrics.js';
import type { BudgetSpendStore } from '../../../src/ports/budget-spend.js';
import { closeBudgetDay } from '../../../src/usecases/budgets/close-day.js';
import { spendWithExact } from '../../../src/usecases/budgets/exact-spend.js';
import { publishBudgets } from '../../../src/usecases/budgets/publish-budgets.js';
import { ingestBatch, type DeliveredMessage } from '../../../src/usecases/ingest/ingest.js';
import { at, DAY, DAY_AFTER, TEST_PRICES, usage } from '../../helpers/events.js';

/** A tenant name that is a path, a query, a quote, an escape and a separator at once. */
const HOSTILE = `x/../#?%2F"'|\\ é`;
const MONTH = DAY.slice(0, 7);

const file = parseBudgets({
  budgets: [
    { scope: { tenant: 'acme' }, period: 'day', limit: { usd: 1 }, policy: 'refuse' },
    { scope: { tenant: 'acme', feature: 'chat' }, period: 'month', limit: { usd: 10 }, policy: 'alert' },
    { scope: { tenant: HOSTILE }, period: 'month', limit: { usd: 10 }, policy: 'refuse' },
  ],
});
function budget(i: number): Budget {
  const b = file.budgets[i];
  if (b === undefined) throw new Error(`no budget ${i}`);
  return b;
}
const [acmeDay, chatMonth, hostileMonth] = [budget(0), budget(1), budget(2)];

/** n events, each a request of 10 GPU-seconds at $0.001 a GPU-second: an estimate of $0.01. */
function messages(n: number, first: number, startSeconds: number, fields: Record<string, unknown> = {}) {
  return Array.from({ length: n }, (_, i): DeliveredMessage => ({
    body: JSON.stringify(
      usage({ startedAt: at(startSeconds + i), finishedAt: at(startSeconds + 10 + i), ...fields }),
    ),
    partition: '0',
    sequenceNumber: first + i,
    enqueuedTime: at(startSeconds + 100 + i),
  }));
}

const usd = (n: number): number => Math.round(n * 1e9);
const cost = (tenant: string, feature: string, dollars: number): ExactCost => ({
  tenant,
  feature,
  nanos: usd(dollars),
  gpuMicros: usd(dollars), // $0.001 a GPU-second: one nano-dollar a GPU-microsecond.
});

async function scenario(spend: BudgetSpendStore): Promise<void> {
  const ingest = (batch: DeliveredMessage[]) =>
    ingestBatch(batch, {
      ledger,
      prices: TEST_PRICES,
      now: () => new Date(`${DAY_AFTER}T12:00:00Z`),
      budgets: { file, spend },
    });
  const ledger = new MemoryLedger();
  // DAY: three chat requests of acme and two of the hostile tenant; DAY_AFTER: one chat request.
  await ingest(messages(3, 0, 1000));
  await ingest(messages(2, 3, 2000, { tenant: HOSTILE }));
  await ingest(messages(1, 5, 86_400 + 1000));
  expect(await spendWithExact(spend, chatMonth, MONTH)).toEqual({ nanos: usd(0.04), gpuMicros: usd(0.04) });

  const exact = [cost('acme', 'chat', 0.05), cost('acme', 'search', 0.005), cost(HOSTILE, 'chat', 0.02)];
  const metrics = await closeBudgetDay({ budgets: file, spend }, DAY, exact);

  // The closed day is the report's figure; the month is exact for DAY, estimated for DAY_AFTER.
  expect(await spendWithExact(spend, acmeDay, DAY)).toEqual({ nanos: usd(0.055), gpuMicros: usd(0.055) });
  expect(await spendWithExact(spend, chatMonth, MONTH)).toEqual({ nanos: usd(0.06), gpuMicros: usd(0.06) });
  expect(await spendWithExact(spend, hostileMonth, MONTH)).toEqual({
    nanos: usd(0.02),
    gpuMicros: usd(0.02),
  });
  // The open day is still the estimate.
  expect(await spendWithExact(spend, acmeDay, DAY_AFTER)).toEqual({ nanos: usd(0.01), gpuMicros: usd(0.01) });

  // The metric, one per scope, sorted by tenant then feature: acme's day was estimated at $0.03
  // and is $0.055 (-45%); chat's at $0.03 of $0.05 (-40%); the hostile tenant's exactly.
  expect(metrics.map((m) => [m.scope, m.periods])).toEqual([
    [{ tenant: 'acme' }, ['day']],
    [{ tenant: 'acme', feature: 'chat' }, ['month']],
    [{ tenant: HOSTILE }, ['month']],
  ]);
  expect(metrics[0]).toMatchObject({ estimateUsd: 0.03, exactUsd: 0.055 });
  expect(metrics[0]?.relativeError).toBeCloseTo(-0.025 / 0.055, 12);
  expect(metrics[1]?.relativeError).toBeCloseTo(-0.4, 12);
  expect(metrics[2]?.relativeError).toBe(0);
  expect(metrics.map((m) => m.reason)).toEqual([undefined, undefined, undefined]);

  // A late event of the closed day reaches the estimate, but the month does not count it twice.
  await ingest(messages(1, 6, 3000));
  expect(await spendWithExact(spend, chatMonth, MONTH)).toEqual({ nanos: usd(0.06), gpuMicros: usd(0.06) });
  expect(await spendWithExact(spend, acmeDay, DAY)).toEqual({ nanos: usd(0.055), gpuMicros: usd(0.055) });

  // The day restated: its new figure replaces the old one, the month moves by the difference only.
  const restated = await closeBudgetDay({ budgets: file, spend }, DAY, [cost('acme', 'chat', 0.02)]);
  expect(await spendWithExact(spend, chatMonth, MONTH)).toEqual({ nanos: usd(0.03), gpuMicros: usd(0.03) });
  expect(await spendWithExact(spend, acmeDay, DAY)).toEqual({ nanos: usd(0.02), gpuMicros: usd(0.02) });
  // The hostile tenant had nothing in the restated report: its closed day is zero, not its estimate.
  expect(await spendWithExact(spend, hostileMonth, MONTH)).toEqual({ nanos: 0, gpuMicros: 0 });
  // Its error is no figure, and says why, rather than "100% off".
  expect(restated[2]).toMatchObject({
    scope: { tenant: HOSTILE },
    estimateUsd: 0.02,
    exactUsd: 0,
    relativeError: null,
    reason: NO_EXACT_SPEND,
  });

  // The published state reads the same figures.
  const published = await publishBudgets({
    budgets: file,
    spend,
    sink: { write: () => Promise.resolve() },
    now: () => new Date(`${DAY_AFTER}T12:00:00Z`),
  });
  expect(published.state.entries.map((e) => e.spentUsd)).toEqual([0.01, 0.03, 0]);
}

describe('the daily report replaces the estimate of a closed day', () => {
  it('in memory', async () => {
    await scenario(new MemoryBudgetSpend());
  });

  it('on Table Storage (Azurite)', async () => {
    const table = TableClient.fromConnectionString(inject('azurite'), `exact${randomUUID().slice(0, 8)}`, {
      allowInsecureConnection: true,
    });
    await scenario(new TableBudgetSpend(table));
    // Another month's exact rows are not this month's.
    const store = new TableBudgetSpend(table);
    await store.setExact('2026-12-01', chatMonth.key, { nanos: 5, gpuMicros: 5 });
    expect([
      ...((await store.exactMonth(MONTH)).get(chatMonth.key) ?? new Map<string, Spent>()).keys(),
    ]).toEqual([DAY]);
  }, 60_000);

  it('refuses a day that is not a day, naming it', async () => {
    await expect(
      closeBudgetDay({ budgets: file, spend: new MemoryBudgetSpend() }, '2026-11', []),
    ).rejects.toThrow('not a day (YYYY-MM-DD): "2026-11"');
  });

  it('lists a scope once with the periods of all its budgets', async () => {
    const both = parseBudgets({
      budgets: [
        { scope: { tenant: 'acme' }, period: 'month', limit: { usd: 100 }, policy: 'alert' },
        { scope: { feature: 'chat' }, period: 'day', limit: { usd: 5 }, policy: 'refuse' },
        { scope: { tenant: 'acme' }, period: 'day', limit: { usd: 5 }, policy: 'refuse' },
      ],
    });
    const metrics = await closeBudgetDay({ budgets: both, spend: new MemoryBudgetSpend() }, DAY, [
      cost('acme', 'chat', 2),
    ]);
    // A feature over all tenants first, then the tenants: the order does not follow the file's.
    expect(metrics.map((m) => [m.scope, m.periods, m.exactUsd, m.relativeError])).toEqual([
      [{ feature: 'chat' }, ['day'], 2, -1],
      [{ tenant: 'acme' }, ['day', 'month'], 2, -1],
    ]);
  });
});
