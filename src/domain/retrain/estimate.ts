/**
 * What a retraining job costs, from the price card (contracts.md §3): before it runs (an estimate from its
 * expected hours, at the price in force when it is decided) and after (its actual GPU-time, each
 * part of it at the price in force then). Money is computed in exact integer fractions of the
 * card's nano-dollars and rounded once, half up, to micro-USD.
 */
import { PermanentError } from '../errors.js';
import { exactCost, type PriceCard } from '../prices.js';
import { formatTimestamp, MICROS_PER_SECOND, type Micros } from '../timestamp.js';

const MICROS_PER_HOUR = 3_600_000_000;
const NANOS_PER_MICRO_USD = 1000n;

export interface JobEstimate {
  /** GPUs of one node of the SKU: the job runs one process per GPU. */
  readonly gpusPerInstance: number;
  /** instances x GPUs per node x expected hours. */
  readonly gpuHours: number;
  /** Integer micro-USD. */
  readonly microUsd: number;
}

export interface RunCost {
  readonly gpuSeconds: number;
  /** Integer micro-USD. */
  readonly microUsd: number;
}

/** `numerator / denominator` rounded half up; both non-negative. */
function roundHalfUp(numerator: bigint, denominator: bigint): number {
  return Number((2n * numerator + denominator) / (2n * denominator));
}

/**
 * The cost of `instanceCount` nodes of `sku` for `expectedHours`, at the price in force at `at`:
 * instances x hours x pricePerVmHour (= instances x GPUs per VM x hours x price per GPU-hour).
 * Throws PermanentError naming the SKU when the card has no price for it at `at`: never a zero.
 */
export function estimateJob(
  prices: PriceCard,
  sku: string,
  instanceCount: number,
  expectedHours: number,
  at: Micros,
): JobEstimate {
  const period = prices.at(sku, at);
  if (period === undefined) {
    throw new PermanentError(`no price for ${sku} at ${formatTimestamp(at)} on the price card`);
  }
  // Hours as whole microseconds: exact for any duration a config can state to the microsecond.
  const micros = BigInt(Math.round(expectedHours * MICROS_PER_HOUR));
  const nanos = BigInt(instanceCount) * micros * BigInt(period.vmHourNanos);
  return {
    gpusPerInstance: period.gpusPerVm,
    gpuHours: instanceCount * period.gpusPerVm * expectedHours,
    microUsd: roundHalfUp(nanos, BigInt(MICROS_PER_HOUR) * NANOS_PER_MICRO_USD),
  };
}

/**
 * The cost of `gpuCount` GPUs of `sku` held from `startUs` to `endUs`: each part of the run pays the
 * price in force during it, so a run spanning a price change pays each period's price. Throws
 * PermanentError naming the SKU when part of the run has no price, and when the run ends before
 * it starts.
 */
export function costOfRun(
  prices: PriceCard,
  sku: string,
  gpuCount: number,
  startUs: Micros,
  endUs: Micros,
): RunCost {
  if (endUs < startUs) {
    throw new PermanentError(
      `run of ${sku} ends (${formatTimestamp(endUs)}) before it starts (${formatTimestamp(startUs)})`,
    );
  }
  const first = prices.at(sku, startUs);
  if (first === undefined) {
    throw new PermanentError(`no price for ${sku} at ${formatTimestamp(startUs)} on the price card`);
  }
  // Periods of one SKU are contiguous from the first one on, so only the start needs checking.
  let numerator = 0n;
  let denominator = 1n;
  for (const period of prices.periods(sku) ?? []) {
    const from = Math.max(period.from, startUs);
    const to = Math.min(period.to, endUs);
    if (to <= from) continue;
    const part = exactCost(period, (to - from) * gpuCount);
    numerator = numerator * part.denominator + part.numerator * denominator;
    denominator *= part.denominator;
  }
  return {
    gpuSeconds: ((endUs - startUs) * gpuCount) / MICROS_PER_SECOND,
    microUsd: roundHalfUp(numerator, denominator * NANOS_PER_MICRO_USD),
  };
}
