import type { ChargebackResult, ChargebackRow } from '../chargeback.js';

const NANOS_PER_MICRO = 1000;

/**
 * The chargeback as printed: every amount of money rounded to whole micro-dollars (the CSV's 6
 * decimals) so that the printed figures add up exactly (contracts.md §4.4). The fleet cost is rounded half
 * up once; it is split into allocated and idle, and each of those into its rows, by largest
 * remainder: every printed amount is its exact amount rounded down or up, and the rounded parts
 * sum to the rounded whole. Rounding each row on its own could miss the fleet by half a
 * micro-dollar per row (30,000 rows of $0.0000004 printed $0 each, $0.012 short).
 */
export function roundForPrint(result: ChargebackResult): ChargebackResult {
  const fleet = Math.round(result.fleetNanos / NANOS_PER_MICRO);
  const [allocated = 0, idle = 0] = largestRemainder(fleet, [result.allocatedNanos, result.idleNanos]);
  const rowMicros = new Map<ChargebackRow, number>();
  for (const [isIdle, total] of [
    [false, allocated],
    [true, idle],
  ] as const) {
    // Ties between equal remainders go by the key columns, so the result does not depend on row order.
    const rows = result.rows.filter((row) => row.idle === isIdle).sort(compareKeys);
    const parts = largestRemainder(
      total,
      rows.map((row) => row.nanos),
    );
    rows.forEach((row, i) => rowMicros.set(row, parts[i] ?? 0));
  }
  return {
    ...result,
    rows: result.rows.map((row) => ({ ...row, nanos: (rowMicros.get(row) ?? 0) * NANOS_PER_MICRO })),
    fleetNanos: fleet * NANOS_PER_MICRO,
    allocatedNanos: allocated * NANOS_PER_MICRO,
    idleNanos: idle * NANOS_PER_MICRO,
  };
}

/**
 * Splits `totalMicros` into parts for amounts in nano-dollars: each part is its amount in
 * micro-dollars rounded down, and the units still missing go one each to the largest remainders
 * (the first among equals). When `totalMicros` is the sum of the amounts rounded (down, half up
 * or up), every part is then its own amount rounded down or up.
 */
export function largestRemainder(totalMicros: number, nanos: readonly number[]): number[] {
  const parts = nanos.map((n) => Math.floor(n / NANOS_PER_MICRO));
  let missing = totalMicros - parts.reduce((a, b) => a + b, 0);
  const byRemainder = nanos
    .map((n, i) => ({ i, remainder: n - (parts[i] ?? 0) * NANOS_PER_MICRO }))
    .sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  for (const { i } of byRemainder) {
    if (missing <= 0) break;
    parts[i] = (parts[i] ?? 0) + 1;
    missing -= 1;
  }
  // Only reached when totalMicros is not a rounding of the sum: the difference goes to the last part.
  if (missing !== 0 && parts.length > 0) parts[parts.length - 1] = (parts[parts.length - 1] ?? 0) + missing;
  return parts;
}

function compareKeys(a: ChargebackRow, b: ChargebackRow): number {
  for (const column of ['tenant', 'feature', 'model', 'requestClass'] as const) {
    if (a[column] !== b[column]) return a[column] < b[column] ? -1 : 1;
  }
  return 0;
}
