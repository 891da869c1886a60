import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../../src/domain/errors.js';
import { loadPriceCard } from '../../../src/domain/prices.js';
import { costOfRun, estimateJob } from '../../../src/domain/retrain/estimate.js';
import { parseTimestamp } from '../../../src/domain/timestamp.js';

const t = (iso: string): number => parseTimestamp(iso) ?? Number.NaN;
const HOUR = 3_600_000_000;

const shipped = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')));
const AT = t('2026-03-01T00:00:00Z');

/** One SKU of 4 GPUs at $10 until June, then $14.692 (a price that is not a binary fraction). */
const changing = loadPriceCard({
  currency: 'USD',
  skus: [
    { sku: 'A', gpusPerVm: 4, pricePerVmHour: 10, effectiveFrom: '2026-01-01T00:00:00Z' },
    { sku: 'A', gpusPerVm: 4, pricePerVmHour: 14.692, effectiveFrom: '2026-06-01T00:00:00Z' },
  ],
});

describe('estimateJob', () => {
  it('charges instances x hours x price per VM-hour: 2 x 4 h of NC96ads ($14.692) = $117.536', () => {
    expect(estimateJob(shipped, 'Standard_NC96ads_A100_v4', 2, 4, AT).microUsd).toBe(117_536_000);
  });

  it('counts the GPUs of the SKU per instance and in GPU-hours', () => {
    const estimate = estimateJob(shipped, 'Standard_NC96ads_A100_v4', 2, 4, AT);
    expect([estimate.gpusPerInstance, estimate.gpuHours]).toEqual([4, 32]);
  });

  it('charges fractional hours: 1 x 1.5 h x $14.692 = $22.038', () => {
    expect(estimateJob(shipped, 'Standard_NC96ads_A100_v4', 1, 1.5, AT).microUsd).toBe(22_038_000);
  });

  it('rounds once, half up, to the micro-dollar', () => {
    const card = loadPriceCard({
      currency: 'USD',
      skus: [{ sku: 'S', gpusPerVm: 1, pricePerVmHour: 0.0000015, effectiveFrom: '2026-01-01T00:00:00Z' }],
    });
    expect(estimateJob(card, 'S', 1, 1, AT).microUsd).toBe(2);
  });

  it('uses the price in force at the instant of decision', () => {
    expect(estimateJob(changing, 'A', 1, 1, t('2026-06-01T00:00:00Z')).microUsd).toBe(14_692_000);
  });

  it('refuses a SKU the card does not price, naming it, rather than charging zero', () => {
    expect(() => estimateJob(shipped, 'Standard_NC6', 1, 1, AT)).toThrow(PermanentError);
    expect(() => estimateJob(shipped, 'Standard_NC6', 1, 1, AT)).toThrow(/Standard_NC6/);
  });

  it('refuses an instant before the SKU has a price', () => {
    expect(() => estimateJob(changing, 'A', 1, 1, t('2025-12-31T23:00:00Z'))).toThrow(
      /no price for A at 2025-12-31/,
    );
  });
});

describe('costOfRun', () => {
  it('charges GPU-seconds at the price per GPU-second: 8 GPUs for an hour of $10 / 4 GPUs = $20', () => {
    const start = t('2026-03-01T00:00:00Z');
    expect(costOfRun(changing, 'A', 8, start, start + HOUR)).toEqual({
      gpuSeconds: 28_800,
      microUsd: 20_000_000,
    });
  });

  it('charges each part of a run spanning a price change at its own price', () => {
    const change = t('2026-06-01T00:00:00Z');
    // 4 GPUs: one hour at $10 per VM-hour, one at $14.692.
    expect(costOfRun(changing, 'A', 4, change - HOUR, change + HOUR).microUsd).toBe(24_692_000);
  });

  it('is zero for a run that ends as it starts', () => {
    expect(costOfRun(changing, 'A', 4, AT, AT)).toEqual({ gpuSeconds: 0, microUsd: 0 });
  });

  it('refuses a run that ends before it starts', () => {
    expect(() => costOfRun(changing, 'A', 4, AT, AT - 1)).toThrow(PermanentError);
  });

  it('refuses a run starting before the SKU has a price, naming the SKU', () => {
    expect(() => costOfRun(changing, 'A', 4, t('2025-12-31T23:00:00Z'), AT)).toThrow(/no price for A/);
  });

  it('refuses a SKU the card does not price', () => {
    expect(() => costOfRun(changing, 'B', 4, AT, AT + HOUR)).toThrow(/no price for B/);
  });

  it('rounds the whole run once, not each period', () => {
    const card = loadPriceCard({
      currency: 'USD',
      skus: [
        { sku: 'S', gpusPerVm: 1, pricePerVmHour: 0.0036, effectiveFrom: '2026-01-01T00:00:00Z' },
        { sku: 'S', gpusPerVm: 1, pricePerVmHour: 0.0036, effectiveFrom: '2026-06-01T00:00:00Z' },
      ],
    });
    // $0.000001 per GPU-second: 0.4 s on each side of the change is 0.8 micro-USD in all: rounds to 1,
    // where rounding each period (0.4 -> 0) would give 0.
    const change = t('2026-06-01T00:00:00Z');
    expect(costOfRun(card, 'S', 1, change - 400_000, change + 400_000).microUsd).toBe(1);
  });
});
