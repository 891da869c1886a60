import { z } from 'zod';
import { ConfigurationError } from './errors.js';
import { parseTimestamp, type Micros } from './timestamp.js';

/** Money is carried as integer nano-dollars (1e-9 of the currency): exact to sum, rounded once at the edge. */
export type Nanos = number;
const NANOS_PER_UNIT = 1_000_000_000;

const MICROS_PER_HOUR = 3_600_000_000;

const priceEntrySchema = z.object({
  sku: z.string().min(1, { error: 'must not be empty' }),
  gpusPerVm: z
    .number()
    .int({ error: 'must be an integer >= 1' })
    .min(1, { error: 'must be an integer >= 1' }),
  pricePerVmHour: z
    .number()
    .positive({ error: 'must be a positive number' })
    .refine((price) => Number.isInteger(Math.round(price * NANOS_PER_UNIT)) && isNanoExact(price), {
      error: 'must have at most 9 decimals',
    }),
  effectiveFrom: z.string().refine((value) => parseTimestamp(value) !== undefined, {
    error: 'must be an ISO-8601 timestamp with Z or an offset',
  }),
});

const priceCardSchema = z.looseObject({
  currency: z.string().regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 code such as USD' }),
  skus: z.array(priceEntrySchema).min(1, { error: 'must list at least one SKU' }),
});

function isNanoExact(price: number): boolean {
  return Math.abs(price * NANOS_PER_UNIT - Math.round(price * NANOS_PER_UNIT)) < 1e-3;
}

/** One effective-dated price of a VM size: from `from` until the next entry of the same SKU. */
export interface PricePeriod {
  readonly sku: string;
  readonly from: Micros;
  readonly to: Micros;
  readonly gpusPerVm: number;
  /** Price of the whole VM for one hour, in nano-dollars (an integer). */
  readonly vmHourNanos: number;
}

export interface PriceCard {
  readonly currency: string;
  /** Periods of one SKU in time order, or undefined when the card does not price the SKU. */
  periods(sku: string): readonly PricePeriod[] | undefined;
  /** The period in force at instant t (the latest entry with effectiveFrom <= t), if any. */
  at(sku: string, t: Micros): PricePeriod | undefined;
}

/**
 * Validates a price card (contracts.md §3). Errors name the entry and field, for example
 * `price card: skus.2.pricePerVmHour: must be a positive number`.
 */
export function loadPriceCard(value: unknown): PriceCard {
  const parsed = priceCardSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map(String).join('.') ?? '';
    throw new ConfigurationError(
      `price card: ${where === '' ? '' : `${where}: `}${issue?.message ?? 'invalid'}`,
    );
  }
  const bySku = new Map<string, { from: Micros; gpusPerVm: number; vmHourNanos: number }[]>();
  for (const entry of parsed.data.skus) {
    const from = parseTimestamp(entry.effectiveFrom) ?? 0;
    const list = bySku.get(entry.sku) ?? [];
    if (list.some((other) => other.from === from)) {
      throw new ConfigurationError(
        `price card: ${entry.sku} has two prices effective from ${entry.effectiveFrom}`,
      );
    }
    list.push({
      from,
      gpusPerVm: entry.gpusPerVm,
      vmHourNanos: Math.round(entry.pricePerVmHour * NANOS_PER_UNIT),
    });
    bySku.set(entry.sku, list);
  }
  const periodsBySku = new Map<string, PricePeriod[]>();
  for (const [sku, list] of bySku) {
    list.sort((a, b) => a.from - b.from);
    periodsBySku.set(
      sku,
      list.map((entry, i) => ({ sku, ...entry, to: list[i + 1]?.from ?? Number.MAX_SAFE_INTEGER })),
    );
  }
  return {
    currency: parsed.data.currency,
    periods: (sku) => periodsBySku.get(sku),
    at(sku, t) {
      const periods = periodsBySku.get(sku);
      if (periods === undefined) return undefined;
      for (let i = periods.length - 1; i >= 0; i--) {
        const period = periods[i];
        if (period !== undefined && period.from <= t) return period;
      }
      return undefined;
    },
  };
}

/** Nano-dollars per GPU-microsecond of a period (contracts.md §3: pricePerVmHour / gpusPerVm / 3600 per second). */
export function nanosPerGpuMicro(period: PricePeriod): number {
  return period.vmHourNanos / period.gpusPerVm / MICROS_PER_HOUR;
}

/**
 * The exact cost in nano-dollars of `gpuMicros` GPU-microseconds in a period, as a fraction
 * numerator / denominator in BigInt, so that sums over many periods stay exact until rounded.
 */
export function exactCost(
  period: PricePeriod,
  gpuMicros: number,
): { numerator: bigint; denominator: bigint } {
  return {
    numerator: BigInt(gpuMicros) * BigInt(period.vmHourNanos),
    denominator: BigInt(period.gpusPerVm) * BigInt(MICROS_PER_HOUR),
  };
}
