import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPriceCard, nanosPerGpuMicro } from '../../src/domain/prices.js';
import { parseTimestamp } from '../../src/domain/timestamp.js';

const t = (iso: string): number => parseTimestamp(iso) ?? Number.NaN;

describe('price card', () => {
  const card = loadPriceCard({
    currency: 'USD',
    skus: [
      { sku: 'S', gpusPerVm: 1, pricePerVmHour: 2, effectiveFrom: '2026-06-01T00:00:00Z' },
      { sku: 'S', gpusPerVm: 1, pricePerVmHour: 1, effectiveFrom: '2026-01-01T00:00:00Z' },
    ],
  });

  it('uses the latest entry with effectiveFrom <= t, whatever the order in the file', () => {
    expect(card.at('S', t('2026-05-31T23:59:59.999Z'))?.vmHourNanos).toBe(1e9);
    expect(card.at('S', t('2026-06-01T00:00:00.000Z'))?.vmHourNanos).toBe(2e9);
  });

  it('has no price before the first entry and none for an unknown SKU', () => {
    expect(card.at('S', t('2025-12-31T23:59:59.000Z'))).toBeUndefined();
    expect(card.at('Standard_NC6', t('2026-07-01T00:00:00.000Z'))).toBeUndefined();
  });

  it('prices a GPU-second at pricePerVmHour / gpusPerVm / 3600', () => {
    const a100 = loadPriceCard({
      currency: 'USD',
      skus: [{ sku: 'ND', gpusPerVm: 8, pricePerVmHour: 32.77, effectiveFrom: '2026-01-01T00:00:00Z' }],
    });
    const period = a100.at('ND', t('2026-02-01T00:00:00.000Z'));
    expect(period && nanosPerGpuMicro(period) * 1e6).toBeCloseTo((32.77 / 8 / 3600) * 1e9, 6);
  });

  it.each([
    [{ currency: 'USD', skus: [] }, 'skus: must list at least one SKU'],
    [
      {
        currency: 'dollars',
        skus: [{ sku: 'S', gpusPerVm: 1, pricePerVmHour: 1, effectiveFrom: '2026-01-01T00:00:00Z' }],
      },
      'currency',
    ],
    [
      {
        currency: 'USD',
        skus: [{ sku: 'S', gpusPerVm: 1, pricePerVmHour: -1, effectiveFrom: '2026-01-01T00:00:00Z' }],
      },
      'skus.0.pricePerVmHour: must be a positive number',
    ],
    [
      {
        currency: 'USD',
        skus: [{ sku: 'S', gpusPerVm: 0, pricePerVmHour: 1, effectiveFrom: '2026-01-01T00:00:00Z' }],
      },
      'skus.0.gpusPerVm',
    ],
    [
      { currency: 'USD', skus: [{ sku: 'S', gpusPerVm: 1, pricePerVmHour: 1, effectiveFrom: 'soon' }] },
      'skus.0.effectiveFrom',
    ],
  ])('rejects %j naming %s', (card, expected) => {
    expect(() => loadPriceCard(card)).toThrow(expected);
  });

  it('rejects two prices of one SKU from the same instant', () => {
    const entry = { sku: 'S', gpusPerVm: 1, pricePerVmHour: 1, effectiveFrom: '2026-01-01T00:00:00Z' };
    expect(() => loadPriceCard({ currency: 'USD', skus: [entry, { ...entry, pricePerVmHour: 2 }] })).toThrow(
      'two prices',
    );
  });

  it('ships an A100 card with every A100 VM size, each with region, date and source', () => {
    const shipped = JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')) as {
      skus: Record<string, unknown>[];
    };
    const card = loadPriceCard(shipped);
    for (const sku of [
      'Standard_NC24ads_A100_v4',
      'Standard_NC48ads_A100_v4',
      'Standard_NC96ads_A100_v4',
      'Standard_ND96asr_v4',
      'Standard_ND96amsr_A100_v4',
    ]) {
      expect(card.at(sku, t('2026-11-22T00:00:00.000Z'))).toBeDefined();
    }
    for (const entry of shipped.skus)
      expect(entry).toMatchObject({
        region: expect.any(String),
        priceDate: expect.any(String),
        source: expect.any(String),
      });
  });
});
