/**
 * The benches' common step: allocate simulated days with a weighting and sum the busy GPU-time
 * (idle rows left out) by whatever keys the bench compares with the simulator's truth.
 */
import { computeChargeback, type ChargebackInput, type ChargebackRow } from '../src/domain/chargeback.js';
import { parseDay } from '../src/domain/days.js';

export type AllocationInput = Pick<
  ChargebackInput,
  'usage' | 'capacity' | 'prices' | 'weighting' | 'weightingFor'
>;

/** GPU-microseconds per key over `dates` (a request running past midnight counts on both days). */
export function allocatedByKey(
  input: AllocationInput,
  dates: readonly string[],
  keys: (row: ChargebackRow) => readonly string[],
): Map<string, number> {
  const byKey = new Map<string, number>();
  for (const date of dates) {
    const day = parseDay(date);
    if (day === undefined) throw new Error(`not a day: ${date}`);
    const result = computeChargeback({
      ...input,
      date,
      dayStart: day.start,
      dayEnd: day.end,
      idle: 'separate',
    });
    for (const row of result.rows) {
      if (row.idle) continue;
      for (const key of keys(row)) byKey.set(key, (byKey.get(key) ?? 0) + row.gpuMicros);
    }
  }
  return byKey;
}
