import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../../src/adapters/memory/memory-ledger.js';
import { MemoryReportStore } from '../../../src/adapters/memory/memory-report-store.js';
import { loadPriceCard } from '../../../src/domain/prices.js';
import {
  earliestPriceChange,
  markPriceChanges,
  priceRecords,
} from '../../../src/usecases/daily/price-changes.js';

const SKU = 'TEST_NC_1GPU';
type Entry = [sku: string, pricePerVmHour: number, effectiveFrom: string, gpusPerVm?: number];

function card(entries: Entry[], currency = 'USD') {
  return loadPriceCard({
    currency,
    skus: entries.map(([sku, pricePerVmHour, effectiveFrom, gpusPerVm = 1]) => ({
      sku,
      gpusPerVm,
      pricePerVmHour,
      effectiveFrom,
    })),
  });
}

const records = (entries: Entry[], currency = 'USD') =>
  priceRecords(
    card(entries, currency),
    entries.map((e) => e[0]),
  );
const day = (micros: number | undefined) =>
  micros === undefined ? undefined : new Date(micros / 1000).toISOString().slice(0, 10);

const BASE: Entry[] = [
  [SKU, 3.6, '2026-01-01T00:00:00Z'],
  [SKU, 3.2, '2026-11-01T00:00:00Z'],
];

describe('earliestPriceChange', () => {
  it('finds nothing when the cards price every instant alike, whatever the entry order', () => {
    expect(earliestPriceChange(records(BASE), records([...BASE].reverse()))).toBeUndefined();
  });

  it('finds the effectiveFrom of a corrected price', () => {
    const corrected: Entry[] = [BASE[0] as Entry, [SKU, 3.25, '2026-11-01T00:00:00Z']];
    expect(day(earliestPriceChange(records(BASE), records(corrected)))).toBe('2026-11-01');
  });

  it('finds a new entry inserted between two others', () => {
    expect(
      day(earliestPriceChange(records(BASE), records([...BASE, [SKU, 3.4, '2026-06-15T00:00:00Z']]))),
    ).toBe('2026-06-15');
  });

  it('finds an entry that moved to a later day from its old day', () => {
    const moved: Entry[] = [BASE[0] as Entry, [SKU, 3.2, '2026-11-10T00:00:00Z']];
    expect(day(earliestPriceChange(records(BASE), records(moved)))).toBe('2026-11-01');
  });

  it('treats a change of GPUs per VM as a change of price', () => {
    const halved: Entry[] = [BASE[0] as Entry, [SKU, 3.2, '2026-11-01T00:00:00Z', 2]];
    expect(day(earliestPriceChange(records(BASE), records(halved)))).toBe('2026-11-01');
  });

  it('dates an added or removed SKU from its first price, and a currency change from the first price of all', () => {
    const added: Entry[] = [...BASE, ['TEST_ND_8GPU', 28.8, '2026-10-01T00:00:00Z', 8]];
    expect(day(earliestPriceChange(records(BASE), records(added)))).toBe('2026-10-01');
    expect(day(earliestPriceChange(records(added), records(BASE)))).toBe('2026-10-01');
    expect(day(earliestPriceChange(records(BASE), records(BASE, 'EUR')))).toBe('2026-01-01');
  });
});

describe('markPriceChanges', () => {
  const now = () => new Date('2026-11-23T00:30:00Z');

  async function system(reported: string[]) {
    const ledger = new MemoryLedger();
    const reports = new MemoryReportStore();
    for (const d of reported)
      await reports.write(
        d,
        { csv: 'csv', summary: '{}', metrics: '{}' },
        { revision: 1, ledgerAsOf: `${d}T23:59:00.000Z` },
      );
    const run = (entries: Entry[], restateDays = 35) =>
      markPriceChanges({
        ledger,
        reports,
        prices: card(entries),
        priceSkus: entries.map((e) => e[0]),
        now,
        restateDays,
      });
    return { ledger, run };
  }

  it('marks nothing on the first run, and remembers the card', async () => {
    const s = await system(['2026-11-20']);
    expect(await s.run(BASE)).toEqual({ days: [] });
    expect(await s.ledger.dirtyDays('2026-01-01')).toEqual([]);
    expect([...(await s.ledger.pricesSeen()).keys()]).toEqual([SKU]);
  });

  it('marks every reported day from the changed effectiveFrom to yesterday, at the time of the run', async () => {
    const s = await system(['2026-11-10', '2026-11-19', '2026-11-20', '2026-11-22']);
    await s.run(BASE);
    const outcome = await s.run([BASE[0] as Entry, [SKU, 3.2, '2026-11-15T00:00:00Z']]);
    expect(outcome).toEqual({
      changedFrom: '2026-11-01',
      days: ['2026-11-10', '2026-11-19', '2026-11-20', '2026-11-22'],
    });
    const corrected = await s.run([BASE[0] as Entry, [SKU, 3.25, '2026-11-15T00:00:00Z']]);
    expect(corrected).toEqual({
      changedFrom: '2026-11-15',
      days: ['2026-11-19', '2026-11-20', '2026-11-22'],
    });
    expect((await s.ledger.dirtyDays('2026-11-19'))[0]).toEqual({
      day: '2026-11-19',
      lastCommitAt: now().toISOString(),
    });
  });

  it('goes back no further than RESTATE_DAYS', async () => {
    const s = await system(['2026-10-01', '2026-11-17', '2026-11-18', '2026-11-22']);
    await s.run(BASE);
    const outcome = await s.run([[SKU, 3.5, '2026-01-01T00:00:00Z'], BASE[1] as Entry], 5);
    expect(outcome.days).toEqual(['2026-11-18', '2026-11-22']);
  });

  it('marks nothing again once the changed card is remembered', async () => {
    const s = await system(['2026-11-20']);
    await s.run(BASE);
    const changed: Entry[] = [BASE[0] as Entry, [SKU, 3.1, '2026-11-01T00:00:00Z']];
    expect((await s.run(changed)).days).toEqual(['2026-11-20']);
    expect(await s.run(changed)).toEqual({ days: [] });
  });
});
