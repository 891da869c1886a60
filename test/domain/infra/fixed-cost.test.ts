import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/domain/errors.js';
import { fixedCostOf, HOURS_PER_MONTH } from '../../../src/domain/infra/fixed-cost.js';
import { loadPriceCard } from '../../../src/domain/prices.js';
import { parseTimestamp } from '../../../src/domain/timestamp.js';

const prices = loadPriceCard({
  currency: 'USD',
  skus: [
    {
      sku: 'Standard_NC24ads_A100_v4',
      gpusPerVm: 1,
      pricePerVmHour: 3.673,
      effectiveFrom: '2026-01-01T00:00:00Z',
    },
    // A price change in June: an estimate made in May uses the old price.
    {
      sku: 'Standard_NC24ads_A100_v4',
      gpusPerVm: 1,
      pricePerVmHour: 3.5,
      effectiveFrom: '2026-06-01T00:00:00Z',
    },
    {
      sku: 'Standard_NC48ads_A100_v4',
      gpusPerVm: 2,
      pricePerVmHour: 7.346,
      effectiveFrom: '2026-01-01T00:00:00Z',
    },
    {
      sku: 'Standard_ND96asr_v4',
      gpusPerVm: 8,
      pricePerVmHour: 27.197,
      effectiveFrom: '2026-01-01T00:00:00Z',
    },
  ],
});
const MAY = parseTimestamp('2026-05-15T00:00:00Z') ?? 0;
const JULY = parseTimestamp('2026-07-15T00:00:00Z') ?? 0;

function snapshot(pools: Record<string, unknown>[], compute?: Record<string, unknown>): unknown {
  const resources: unknown[] = [
    {
      type: 'Microsoft.ContainerService/managedClusters',
      name: 'aks',
      properties: { agentPoolProfiles: pools },
    },
  ];
  if (compute !== undefined)
    resources.push({
      type: 'Microsoft.MachineLearningServices/workspaces/computes',
      name: 'mlw/a100-train',
      properties: { computeType: 'AmlCompute', properties: compute },
    });
  return { predictedResources: resources };
}

const SYSTEM = {
  name: 'system',
  mode: 'System',
  vmSize: 'Standard_D4ds_v5',
  enableAutoScaling: true,
  minCount: 2,
  maxCount: 3,
};
const INTERACTIVE = {
  name: 'a100int',
  mode: 'User',
  vmSize: 'Standard_NC24ads_A100_v4',
  enableAutoScaling: true,
  minCount: 2,
  maxCount: 8,
};
const BATCH = {
  name: 'a100batch',
  mode: 'User',
  vmSize: 'Standard_NC48ads_A100_v4',
  enableAutoScaling: false,
  count: 1,
};
const CLUSTER = { vmSize: 'Standard_ND96asr_v4', scaleSettings: { minNodeCount: 0, maxNodeCount: 2 } };

describe('fixedCostOf', () => {
  it('prices each pool at its minimum and maximum for a month of 730 hours, exactly', () => {
    const cost = fixedCostOf(snapshot([SYSTEM, INTERACTIVE, BATCH], CLUSTER), prices, MAY);
    expect(HOURS_PER_MONTH).toBe(730);
    const [, interactive, batch] = cost.pools;
    // 2 x $3.673 x 730 = $5,362.58; 8 x $3.673 x 730 = $21,450.32 (in nano-dollars).
    expect([interactive?.monthlyAtMinNanos, interactive?.monthlyAtMaxNanos]).toEqual([
      5_362_580_000_000, 21_450_320_000_000,
    ]);
    // Without the autoscaler, a pool is its fixed count at both ends: 1 x $7.346 x 730.
    expect([batch?.minCount, batch?.maxCount, batch?.monthlyAtMinNanos]).toEqual([1, 1, 5_362_580_000_000]);
    expect(cost.monthlyAtMinNanos).toBe(5_362_580_000_000 * 2);
    expect(cost.monthlyAtMaxNanos).toBe(21_450_320_000_000 + 5_362_580_000_000);
  });

  it('prices the training cluster per hour of training at its largest size, and nothing when idle at zero nodes', () => {
    const [cluster] = fixedCostOf(snapshot([INTERACTIVE], CLUSTER), prices, MAY).training;
    expect(cluster).toMatchObject({
      name: 'a100-train',
      gpusPerVm: 8,
      maxNodes: 2,
      hourAtMaxNanos: 54_394_000_000,
      monthlyAtMinNanos: 0,
    });
    const kept = fixedCostOf(
      snapshot([INTERACTIVE], { ...CLUSTER, scaleSettings: { minNodeCount: 1, maxNodeCount: 2 } }),
      prices,
      MAY,
    );
    // One node kept warm is a fixed cost: $27.197 x 730 = $19,853.81.
    expect(kept.training[0]?.monthlyAtMinNanos).toBe(19_853_810_000_000);
    expect(kept.monthlyAtMinNanos).toBe(5_362_580_000_000 + 19_853_810_000_000);
  });

  it('uses the price in force at the given instant', () => {
    const july = fixedCostOf(snapshot([INTERACTIVE]), prices, JULY);
    expect(july.pools[0]?.monthlyAtMinNanos).toBe(2 * 3_500_000_000 * 730);
  });

  it('names a system pool the price card does not price, and leaves it out of the totals', () => {
    const cost = fixedCostOf(snapshot([SYSTEM, INTERACTIVE]), prices, MAY);
    expect(cost.unpriced).toEqual(['aks/system: Standard_D4ds_v5 (system pool) is not on the price card']);
    expect(cost.pools[0]?.monthlyAtMinNanos).toBeUndefined();
    expect(cost.monthlyAtMinNanos).toBe(5_362_580_000_000);
  });

  it.each([
    [
      snapshot([{ ...INTERACTIVE, vmSize: 'Standard_NC6s_v3' }]),
      'pool a100int: the price card has no price for Standard_NC6s_v3',
    ],
    [
      snapshot([INTERACTIVE], { ...CLUSTER, vmSize: 'Standard_NC6s_v3' }),
      'a100-train: the price card has no price for Standard_NC6s_v3',
    ],
    [
      snapshot([{ ...INTERACTIVE, maxCount: "[parameters('max')]" }]),
      "maxCount is an expression the snapshot could not evaluate: [parameters('max')]",
    ],
    [snapshot([{ ...INTERACTIVE, minCount: -1 }]), 'minCount must be a whole number >= 0, got -1'],
    [snapshot([{ ...INTERACTIVE, minCount: 9 }]), 'maxCount 8 < minCount 9'],
    [snapshot([{ ...INTERACTIVE, vmSize: undefined }]), 'pool a100int: vmSize is missing'],
    [{ resources: [] }, 'not a Bicep snapshot'],
    [null, 'not a Bicep snapshot'],
  ])('refuses what it cannot price, naming it (%#)', (input, message) => {
    expect(() => fixedCostOf(input, prices, MAY)).toThrow(ConfigurationError);
    expect(() => fixedCostOf(input, prices, MAY)).toThrow(message);
  });
});
