import type { BudgetPeriod } from './budgets.js';

/** One UTC day or month: its name (`2026-12-07`, `2026-12`) and its half-open bounds in ms. */
export interface PeriodWindow {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** The UTC day or month holding the instant `ms`. */
export function periodAt(period: BudgetPeriod, ms: number): PeriodWindow {
  if (!Number.isFinite(ms)) throw new RangeError(`not an instant: ${ms}`);
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (period === 'day') {
    const startMs = Date.UTC(y, m, d.getUTCDate());
    return { name: `${y}-${pad(m + 1)}-${pad(d.getUTCDate())}`, startMs, endMs: startMs + 86_400_000 };
  }
  return { name: `${y}-${pad(m + 1)}`, startMs: Date.UTC(y, m, 1), endMs: Date.UTC(y, m + 1, 1) };
}

/** Whole seconds from `nowMs` to the end of its period, at least 1: the `Retry-After` of a refusal. */
export function secondsToEnd(endMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((endMs - nowMs) / 1000));
}
