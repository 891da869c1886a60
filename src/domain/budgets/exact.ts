import { covers, type BudgetsFile } from './budgets.js';
import type { Spent } from './state.js';

/** One tenant and feature's exact cost on a closed day, from the daily report. */
export interface ExactCost {
  readonly tenant: string;
  readonly feature: string;
  readonly nanos: number;
  readonly gpuMicros: number;
}

/** A closed day of one scope: the exact figure the report gave and the estimate ingest holds. */
export interface ClosedDay {
  readonly day: string;
  readonly exact: Spent;
  readonly estimate: Spent;
}

const DAY_NAME = /^\d{4}-\d{2}-\d{2}$/;

/** Refuses anything but a `2026-12-07` day name, naming what it got. */
export function checkDayName(day: string): string {
  if (!DAY_NAME.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`)))
    throw new RangeError(`not a day (YYYY-MM-DD): ${JSON.stringify(day)}`);
  return day;
}

/**
 * The exact spend of every budget scope on one closed day (each distinct scope once, whatever its
 * budgets' periods): the report's costs of the tenants and features the scope covers. A scope with
 * no cost that day gets zero: the report is the whole day, so its estimate is replaced by nothing.
 */
export function exactByScope(file: BudgetsFile, costs: readonly ExactCost[]): Map<string, Spent> {
  const out = new Map<string, { nanos: number; gpuMicros: number }>();
  for (const b of file.budgets) {
    if (out.has(b.key)) continue;
    const sum = { nanos: 0, gpuMicros: 0 };
    for (const c of costs) {
      if (!covers(b.scope, c.tenant, c.feature)) continue;
      sum.nanos += c.nanos;
      sum.gpuMicros += c.gpuMicros;
    }
    out.set(b.key, sum);
  }
  return out;
}

/**
 * A month's spend with its closed days exact: the running estimate of the month, less the
 * estimate each closed day holds now (late events of a closed day still reach both the day's and
 * the month's estimate, so they cancel), plus that day's exact figure.
 */
export function monthSpend(estimate: Spent, closed: readonly ClosedDay[]): Spent {
  let nanos = estimate.nanos;
  let gpuMicros = estimate.gpuMicros;
  for (const d of closed) {
    nanos += d.exact.nanos - d.estimate.nanos;
    gpuMicros += d.exact.gpuMicros - d.estimate.gpuMicros;
  }
  return { nanos: Math.max(0, nanos), gpuMicros: Math.max(0, gpuMicros) };
}

/**
 * The estimate's relative error against the exact figure, in dollars: (estimate - exact) / exact,
 * positive when the estimate was high; null when the exact figure is zero, since a ratio over
 * nothing is no figure (neither "100% off" nor "exact"): the estimate in dollars says the rest.
 */
export function estimateError(estimate: Spent, exact: Spent): number | null {
  if (exact.nanos === 0) return null;
  return (estimate.nanos - exact.nanos) / exact.nanos;
}
