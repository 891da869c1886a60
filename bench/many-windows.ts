/**
 * Fleet cost of one pod with many disjoint capacity windows (a sidecar that restarts often, or a
 * month of windows): prints the time of allocatePod for 20k to 160k windows, which should grow
 * linearly. Run: npx tsx bench/many-windows.ts
 */
import { dayEndMicros, dayStartMicros } from '../src/domain/days.js';
import { allocatePod } from '../src/domain/allocation.js';
import { loadPriceCard } from '../src/domain/prices.js';

const prices = loadPriceCard({
  currency: 'USD',
  skus: [
    { sku: 'A100', gpusPerVm: 1, pricePerVmHour: 3.673, effectiveFrom: '2026-01-01T00:00:00Z' },
    { sku: 'A100', gpusPerVm: 1, pricePerVmHour: 3.71, effectiveFrom: '2026-03-01T12:00:00Z' },
  ],
});
const dayStart = dayStartMicros('2026-03-01');
const dayEnd = dayEndMicros('2026-03-01');

for (const count of [20_000, 40_000, 80_000, 160_000]) {
  const step = Math.floor((dayEnd - dayStart) / count);
  const windows = Array.from({ length: count }, (_, i) => ({
    start: dayStart + i * step,
    end: dayStart + i * step + Math.floor(step / 2) + (i % 7),
  }));
  const started = performance.now();
  const allocation = allocatePod(
    { pod: 'p', model: 'm', gpuSku: 'A100', gpuCount: 1, windows, requests: [] },
    dayStart,
    dayEnd,
    prices,
    { kind: 'time-share' },
  );
  const ms = performance.now() - started;
  console.log(`${count} windows: ${ms.toFixed(0)} ms, fleet ${allocation.fleetNanos} nano-dollars`);
}
