import { loadPriceCard, type PriceCard } from '../../src/domain/prices.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import type { Ledger, LedgerRepair } from '../../src/ports/ledger.js';
import type { ReportStore } from '../../src/ports/report-store.js';
import type { DailyDeps } from '../../src/usecases/daily/daily-run.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { EIGHT_GPU, ONE_GPU } from './events.js';
import { isolatedServices } from './storage.js';

/** A VM size missing from TEST_PRICES (FIXED_PRICES is TEST_PRICES with it added): $7.20 per VM-hour for two GPUs, $0.001 per GPU-second. */
export const NEW_SKU = 'TEST_NC_2GPU';

export const FIXED_PRICES: PriceCard = loadPriceCard({
  currency: 'USD',
  skus: [
    { sku: ONE_GPU, gpusPerVm: 1, pricePerVmHour: 3.6, effectiveFrom: '2026-01-01T00:00:00Z' },
    { sku: EIGHT_GPU, gpusPerVm: 8, pricePerVmHour: 28.8, effectiveFrom: '2026-01-01T00:00:00Z' },
    { sku: NEW_SKU, gpusPerVm: 2, pricePerVmHour: 7.2, effectiveFrom: '2026-01-01T00:00:00Z' },
  ],
});

export interface Stores {
  readonly ledger: Ledger & LedgerRepair;
  readonly reports: ReportStore;
}

/** The two ledgers every repair test runs on: in memory, and on Azure Storage (Azurite). */
export const STORES: [string, () => Promise<Stores>][] = [
  ['in memory', () => Promise.resolve({ ledger: new MemoryLedger(), reports: new MemoryReportStore() })],
  ['Azure Storage on Azurite', async () => await isolatedServices()],
];

export function dailyDeps(stores: Stores, prices: PriceCard, now: () => Date): DailyDeps {
  return { ...stores, prices, now, idle: 'separate', weighting: DEFAULT_WEIGHTING, restateDays: 35 };
}
