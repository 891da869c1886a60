import { z } from 'zod';
import { ConfigurationError } from '../errors.js';
import { readLabel } from '../text.js';

/** Who a budget covers: a tenant, a feature, or one feature of one tenant. */
export interface BudgetScope {
  readonly tenant?: string;
  readonly feature?: string;
}

export type BudgetPeriod = 'day' | 'month';
export type BudgetPolicy = 'refuse' | 'demote' | 'alert';

/** A limit in US dollars or in GPU-hours (contracts.md §14). */
export type BudgetLimit = { readonly usd: number } | { readonly gpuHours: number };

export interface Budget {
  readonly scope: BudgetScope;
  readonly period: BudgetPeriod;
  readonly limit: BudgetLimit;
  readonly policy: BudgetPolicy;
  /** Fractions of the limit at which a card is posted, ascending, each in (0, 10]. */
  readonly thresholds: readonly number[];
  /** The scope as one unambiguous string (JSON of [tenant, feature]): the key of its spend. */
  readonly key: string;
}

export interface BudgetsFile {
  readonly budgets: readonly Budget[];
}

const name = z.string({ error: 'must be a string' }).transform((text, ctx) => {
  const read = readLabel(text);
  if ('error' in read) {
    ctx.addIssue({ code: 'custom', message: read.error });
    return z.NEVER;
  }
  return read.value;
});

const positive = z
  .number({ error: 'must be a number' })
  .refine((n) => Number.isFinite(n) && n > 0, { error: 'must be a positive finite number' });

const budgetSchema = z.strictObject(
  {
    scope: z
      .strictObject({ tenant: name.optional(), feature: name.optional() }, { error: 'must be an object' })
      .refine((s) => s.tenant !== undefined || s.feature !== undefined, {
        error: 'must name a tenant, a feature, or both',
      }),
    period: z.enum(['day', 'month'], { error: 'must be day or month' }),
    limit: z.union([z.strictObject({ usd: positive }), z.strictObject({ gpuHours: positive })], {
      error: 'must be {"usd": n} or {"gpuHours": n}',
    }),
    policy: z.enum(['refuse', 'demote', 'alert'], { error: 'must be refuse, demote or alert' }),
    thresholds: z
      .array(
        positive.refine((n) => n <= 10, { error: 'must be at most 10' }),
        {
          error: 'must be an array of fractions',
        },
      )
      .max(8, { error: 'must have at most 8 entries' })
      .refine((t) => t.every((v, i) => i === 0 || v > (t[i - 1] ?? 0)), {
        error: 'must be strictly ascending',
      })
      .default([1]),
  },
  { error: 'must be an object' },
);

const fileSchema = z.strictObject(
  { budgets: z.array(budgetSchema, { error: 'must be an array' }).max(10_000) },
  { error: 'must be an object with a budgets array' },
);

/** The key of a scope: JSON, so that no tenant name (`a|b`, quotes, unicode) can stand for another scope. */
export function scopeKey(scope: BudgetScope): string {
  return JSON.stringify([scope.tenant ?? null, scope.feature ?? null]);
}

/**
 * Validates a budgets file (contracts.md §14). Errors name the field path, for example
 * `budgets file: budgets.2.scope.tenant: must not contain U+0000 (control character)`. Two budgets
 * on one scope and period are refused: which one holds would be a guess.
 */
export function parseBudgets(value: unknown): BudgetsFile {
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map(String).join('.') ?? '';
    const message =
      issue?.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
        : (issue?.message ?? 'invalid');
    throw new ConfigurationError(`budgets file: ${where === '' ? '' : `${where}: `}${message}`);
  }
  const seen = new Map<string, number>();
  const budgets = parsed.data.budgets.map((b, i): Budget => {
    const scope: BudgetScope = {
      ...(b.scope.tenant === undefined ? {} : { tenant: b.scope.tenant }),
      ...(b.scope.feature === undefined ? {} : { feature: b.scope.feature }),
    };
    const key = scopeKey(scope);
    const other = seen.get(`${b.period}\n${key}`);
    if (other !== undefined)
      throw new ConfigurationError(
        `budgets file: budgets.${i}.scope: the same scope and period as budgets.${other}`,
      );
    seen.set(`${b.period}\n${key}`, i);
    return { scope, period: b.period, limit: b.limit, policy: b.policy, thresholds: b.thresholds, key };
  });
  return { budgets };
}

/** Parses the text of a budgets file; bad JSON is an error that says so. */
export function parseBudgetsText(text: string): BudgetsFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(`budgets file: not valid JSON: ${(error as Error).message}`);
  }
  return parseBudgets(value);
}

/** True when the budget covers a request of this tenant and feature (exact, code unit for code unit). */
export function covers(scope: BudgetScope, tenant: string, feature: string): boolean {
  return (
    (scope.tenant === undefined || scope.tenant === tenant) &&
    (scope.feature === undefined || scope.feature === feature)
  );
}
