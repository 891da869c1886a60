import { z } from 'zod';
import { covers, type Budget, type BudgetPolicy, type BudgetScope } from './budgets.js';
import { periodAt, secondsToEnd } from './periods.js';

const NANOS_PER_USD = 1_000_000_000;
const MICROS_PER_HOUR = 3_600_000_000;

/** What was spent in one budget's period so far: nano-dollars and GPU-microseconds, as ingest estimated them. */
export interface Spent {
  readonly nanos: number;
  readonly gpuMicros: number;
}

/** One budget's line in the state document the sidecars read. */
export interface BudgetStateEntry {
  readonly scope: BudgetScope;
  readonly period: 'day' | 'month';
  /** The period's name: `2026-12-07` or `2026-12`. */
  readonly periodName: string;
  readonly policy: BudgetPolicy;
  /** The limit in dollars; null for a budget in GPU-hours. */
  readonly limitUsd: number | null;
  readonly limitGpuHours: number | null;
  readonly spentUsd: number;
  readonly spentGpuHours: number;
  /** The share of the limit spent (spent / limit in the limit's unit). */
  readonly fraction: number;
  /** The soft thresholds reached. */
  readonly crossed: readonly number[];
  /** True once spent reaches the limit: the policy applies. */
  readonly over: boolean;
  /** The period's end (ISO-8601, UTC): nothing in this entry holds from then on. */
  readonly resetsAt: string;
}

export interface BudgetState {
  readonly version: 1;
  readonly generatedAt: string;
  readonly entries: readonly BudgetStateEntry[];
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;

/** A budget's entry from what its current period has spent. */
export function stateEntry(budget: Budget, spent: Spent, nowMs: number): BudgetStateEntry {
  const window = periodAt(budget.period, nowMs);
  const spentUsd = spent.nanos / NANOS_PER_USD;
  const spentGpuHours = spent.gpuMicros / MICROS_PER_HOUR;
  const fraction =
    'usd' in budget.limit ? spentUsd / budget.limit.usd : spentGpuHours / budget.limit.gpuHours;
  return {
    scope: budget.scope,
    period: budget.period,
    periodName: window.name,
    policy: budget.policy,
    limitUsd: 'usd' in budget.limit ? budget.limit.usd : null,
    limitGpuHours: 'gpuHours' in budget.limit ? budget.limit.gpuHours : null,
    spentUsd: round6(spentUsd),
    spentGpuHours: round6(spentGpuHours),
    fraction: round6(fraction),
    crossed: budget.thresholds.filter((t) => fraction >= t),
    over: fraction >= 1,
    resetsAt: new Date(window.endMs).toISOString(),
  };
}

const name = z.string().min(1).max(512);
const entrySchema = z.strictObject({
  scope: z.strictObject({ tenant: name.optional(), feature: name.optional() }),
  period: z.enum(['day', 'month']),
  periodName: z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/),
  policy: z.enum(['refuse', 'demote', 'alert']),
  limitUsd: z.number().positive().nullable(),
  limitGpuHours: z.number().positive().nullable(),
  spentUsd: z.number().min(0),
  spentGpuHours: z.number().min(0),
  fraction: z.number().min(0),
  crossed: z.array(z.number()),
  over: z.boolean(),
  resetsAt: z.iso.datetime(),
});
const stateSchema = z.strictObject({
  version: z.literal(1),
  generatedAt: z.iso.datetime(),
  entries: z.array(entrySchema),
});

/** Reads a state document; an error names the field that is wrong. */
export function parseBudgetState(text: string): BudgetState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`budget state: not valid JSON: ${(error as Error).message}`);
  }
  const parsed = stateSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `budget state: ${issue?.path.map(String).join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** The answer a refused request gets (contracts.md §14). */
export interface Refusal {
  readonly status: 429;
  readonly retryAfterSeconds: number;
  readonly body: {
    readonly error: {
      readonly type: 'budget_exceeded';
      readonly message: string;
      readonly scope: BudgetScope;
      readonly period: 'day' | 'month';
      readonly limitUsd: number | null;
      readonly spentUsd: number;
      readonly limitGpuHours?: number;
      readonly spentGpuHours?: number;
      readonly resetsAt: string;
    };
  };
}

export type Decision =
  | { readonly action: 'serve' }
  | { readonly action: 'alert'; readonly entry: BudgetStateEntry }
  | { readonly action: 'demote'; readonly entry: BudgetStateEntry }
  | { readonly action: 'refuse'; readonly entry: BudgetStateEntry; readonly refusal: Refusal };

const RANK: Record<BudgetPolicy, number> = { alert: 1, demote: 2, refuse: 3 };

/**
 * What to do with a request of this tenant and feature at `nowMs`: the strictest policy among the
 * budgets over their limit that cover it. An entry whose period has ended (resetsAt <= now) no
 * longer holds, however old the document: a budget resets at its boundary without a new one.
 */
export function decide(
  entries: readonly BudgetStateEntry[],
  tenant: string,
  feature: string,
  nowMs: number,
): Decision {
  let worst: BudgetStateEntry | undefined;
  for (const e of entries) {
    if (!e.over || Date.parse(e.resetsAt) <= nowMs || !covers(e.scope, tenant, feature)) continue;
    if (worst === undefined || RANK[e.policy] > RANK[worst.policy]) worst = e;
  }
  if (worst === undefined) return { action: 'serve' };
  if (worst.policy !== 'refuse') return { action: worst.policy, entry: worst };
  return { action: 'refuse', entry: worst, refusal: refusalOf(worst, nowMs) };
}

/** The 429 of contracts.md §14 for an entry over its limit. */
export function refusalOf(e: BudgetStateEntry, nowMs: number): Refusal {
  const resetsMs = Date.parse(e.resetsAt);
  return {
    status: 429,
    retryAfterSeconds: secondsToEnd(resetsMs, nowMs),
    body: {
      error: {
        type: 'budget_exceeded',
        message: `the ${e.period} budget of this scope is spent; it resets at ${e.resetsAt}`,
        scope: e.scope,
        period: e.period,
        limitUsd: e.limitUsd,
        spentUsd: e.spentUsd,
        ...(e.limitGpuHours === null
          ? {}
          : { limitGpuHours: e.limitGpuHours, spentGpuHours: e.spentGpuHours }),
        resetsAt: e.resetsAt,
      },
    },
  };
}
