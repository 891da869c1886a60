import { z } from 'zod';
import { ConfigurationError } from '../errors.js';
import { decimal } from './daily-rows.js';
import type { FeatureValues } from './page-model.js';

/**
 * The value file of the monthly review (contracts.md §12): what each feature is worth, per request or per
 * month, in the report's currency. `{"currency": "USD", "features": {"chat": {"valuePerRequestUsd":
 * 0.004}, "search": {"valuePerMonthUsd": 20000}}}`. Amounts have at most 6 decimals.
 */
const amount = z.union([z.number(), z.string()]).transform((value, context) => {
  try {
    return decimal(String(value), 6, 'amount');
  } catch {
    context.addIssue({ code: 'custom', message: 'must be an amount >= 0 with at most 6 decimals' });
    return z.NEVER;
  }
});

const schema = z.strictObject({
  $comment: z.string().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 code such as USD' }),
  features: z.record(
    z.string().min(1),
    z
      .strictObject({ valuePerRequestUsd: amount.optional(), valuePerMonthUsd: amount.optional() })
      .refine((v) => v.valuePerRequestUsd !== undefined || v.valuePerMonthUsd !== undefined, {
        error: 'needs valuePerRequestUsd or valuePerMonthUsd',
      }),
  ),
});

export function parseValues(json: unknown, currency: string): FeatureValues {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map(String).join('.') ?? '';
    throw new ConfigurationError(
      `value file: ${where === '' ? '' : `${where}: `}${issue?.message ?? 'invalid'}`,
    );
  }
  if (parsed.data.currency !== currency)
    throw new ConfigurationError(
      `value file: currency ${parsed.data.currency}, the reports are in ${currency}`,
    );
  const values: Record<string, { perRequestMicros?: bigint; perMonthMicros?: bigint }> = {};
  for (const [feature, v] of Object.entries(parsed.data.features)) {
    values[feature] = {
      ...(v.valuePerRequestUsd === undefined ? {} : { perRequestMicros: v.valuePerRequestUsd }),
      ...(v.valuePerMonthUsd === undefined ? {} : { perMonthMicros: v.valuePerMonthUsd }),
    };
  }
  return values;
}
