import { describe, expect, it } from 'vitest';
import { allocatePod } from '../../src/domain/allocation.js';
import { loadPriceCard } from '../../src/domain/prices.js';

const MICROS_PER_HOUR = 3_600_000_000n;

describe('fleet cost of a pod with many disjoint windows (contracts.md §4.1)', () => {
  // A sidecar that restarts every few seconds, or a month of windows: the cost stays exact and is
  // computed in time linear in the windows (see bench/many-windows.ts for the figures).
  it('is the exact sum over 60,000 windows across a price change, rounded once', () => {
    const prices = loadPriceCard({
      currency: 'USD',
      skus: [
        { sku: 'ND', gpusPerVm: 8, pricePerVmHour: 27.197, effectiveFrom: '2026-01-01T00:00:00Z' },
        { sku: 'ND', gpusPerVm: 8, pricePerVmHour: 28.001, effectiveFrom: '2026-03-01T12:00:00Z' },
      ],
    });
    const dayStart = Date.parse('2026-03-01T00:00:00Z') * 1000;
    const change = dayStart + 43_200_000_000;
    const count = 60_000;
    const step = 86_400_000_000 / count; // 1.44 s apart
    const windows = Array.from({ length: count }, (_, i) => ({
      start: dayStart + i * step,
      end: dayStart + i * step + 1_000_003 + (i % 11),
    }));
    let before = 0n;
    let after = 0n;
    for (const w of windows) {
      before += BigInt(Math.max(0, Math.min(w.end, change) - w.start));
      after += BigInt(Math.max(0, w.end - Math.max(w.start, change)));
    }
    const gpus = 2n;
    // nano-dollars = GPU-micros x VM-hour nano-dollars / (GPUs per VM x micros per hour), rounded half up.
    const numerator = gpus * (before * 27_197_000_000n + after * 28_001_000_000n);
    const denominator = 8n * MICROS_PER_HOUR;
    const expected = Number((2n * numerator + denominator) / (2n * denominator));

    const allocation = allocatePod(
      { pod: 'p', model: 'm', gpuSku: 'ND', gpuCount: 2, windows, requests: [] },
      dayStart,
      dayStart + 86_400_000_000,
      prices,
      { kind: 'time-share' },
    );
    expect(allocation.fleetNanos).toBe(expected);
    expect(allocation.fleetGpuMicros).toBe(Number(gpus * (before + after)));
    expect(allocation.idleNanos).toBe(expected);
  });
});
