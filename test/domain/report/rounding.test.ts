import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChargebackResult, ChargebackRow } from '../../../src/domain/chargeback.js';
import { LatencyCounts } from '../../../src/domain/metrics/latency-counts.js';
import { NO_REQUEST_STATS } from '../../../src/domain/metrics/request-stats.js';
import { formatMoney } from '../../../src/domain/report/format.js';
import { roundForPrint } from '../../../src/domain/report/rounding.js';
import { at, capacity, runDay, usage } from '../../helpers/events.js';

/** A printed amount with 6 decimals as integer micro-units, without floating-point sums. */
const micros = (printed: string): number => Number(printed.replace('.', ''));

function row(tenant: string, nanos: number, idle: boolean): ChargebackRow {
  return {
    tenant: idle ? '(idle)' : tenant,
    feature: idle ? '(idle)' : 'f',
    model: idle ? tenant : 'm',
    requestClass: idle ? '(idle)' : 'interactive',
    idle,
    requests: 0,
    errorRequests: 0,
    promptTokens: 0,
    completionTokens: 0,
    cachedPromptTokens: 0,
    gpuMicros: 0,
    nanos,
    latencies: LatencyCounts.EMPTY,
    stats: NO_REQUEST_STATS,
  };
}

function resultOf(rows: ChargebackRow[]): ChargebackResult {
  const allocated = rows.filter((r) => !r.idle).reduce((a, r) => a + r.nanos, 0);
  const idle = rows.filter((r) => r.idle).reduce((a, r) => a + r.nanos, 0);
  return {
    rows,
    fleetNanos: allocated + idle,
    allocatedNanos: allocated,
    idleNanos: idle,
    fleetGpuMicros: 0,
    allocatedGpuMicros: 0,
    idleGpuMicros: 0,
    requests: 0,
    unmeteredRequests: 0,
    pods: 1,
    podTotals: [],
  };
}

describe('printed money adds up (contracts.md §4.4)', () => {
  it('prints 30,000 rows of $0.0000004 so that they add up to the printed fleet cost', () => {
    // 12 GPU-seconds at $0.001 shared equally by 30,000 requests of different tenants.
    const events = [capacity({ windowStart: at(0), windowEnd: at(12) })];
    for (let i = 0; i < 30_000; i++) {
      events.push(usage({ tenant: `t${i}`, startedAt: at(0), finishedAt: at(12) }));
    }
    const report = runDay(events);
    expect(report.summaryJson.fleetCostUsd).toBe(0.012);
    expect(report.rows.reduce((total, r) => total + micros(r.costUsd ?? ''), 0)).toBe(12_000);
    expect(report.summaryJson.closureDifferenceUsd).toBe(0);
  });

  it('rows, allocated and idle: each printed amount rounds its own down or up, and the parts add up', () => {
    const rowsArb = fc.array(
      fc.record({
        tenant: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'),
        nanos: fc.oneof(fc.integer({ min: 0, max: 1999 }), fc.integer({ min: 0, max: 10 ** 12 })),
        idle: fc.boolean(),
      }),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(rowsArb, (specs) => {
        const unique = new Map(specs.map((s) => [`${String(s.idle)}/${s.tenant}`, s]));
        const rows = [...unique.values()].map((s) => row(s.tenant, s.nanos, s.idle));
        const printed = roundForPrint(resultOf(rows));
        const cells = printed.rows.map((r) => micros(formatMoney(r.nanos)));
        const fleet = micros(formatMoney(printed.fleetNanos));
        expect(fleet).toBe(Math.round(rows.reduce((a, r) => a + r.nanos, 0) / 1000));
        expect(cells.reduce((a, b) => a + b, 0)).toBe(fleet);
        expect(micros(formatMoney(printed.allocatedNanos)) + micros(formatMoney(printed.idleNanos))).toBe(
          fleet,
        );
        const idleCells = printed.rows.filter((r) => r.idle).map((r) => r.nanos / 1000);
        expect(idleCells.reduce((a, b) => a + b, 0)).toBe(printed.idleNanos / 1000);
        rows.forEach((r, i) => {
          expect(Math.abs((cells[i] ?? 0) - r.nanos / 1000)).toBeLessThan(1);
        });
        // The same rows in another order print the same amounts.
        const reversed = roundForPrint(resultOf([...rows].reverse()));
        expect(reversed.rows.map((r) => r.nanos).reverse()).toEqual(printed.rows.map((r) => r.nanos));
      }),
      { numRuns: 300 },
    );
  });
});
