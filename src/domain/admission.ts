import type { PriceCard } from './prices.js';
import type { AccountingRecord } from './records.js';
import { formatTimestamp } from './timestamp.js';

/** Tenant name reserved for the idle rows of the report (SPEC 4.3). */
export const IDLE_TENANT = '(idle)';

/**
 * Why a schema-valid event still cannot be accounted, or undefined when it can: a SKU the price card
 * does not know or has no price for at that time (SPEC 3: an error naming the SKU, never a zero),
 * or a usage event claiming the reserved idle tenant. The CLI and the ingestion share this rule.
 */
export function admissionProblem(prices: PriceCard, record: AccountingRecord): string | undefined {
  if (prices.periods(record.gpuSku) === undefined) {
    return `gpuSku: "${record.gpuSku}" is not on the price card`;
  }
  const at = record.type === 'usage' ? record.startedAt : record.windowStart;
  if (prices.at(record.gpuSku, at) === undefined) {
    return `gpuSku: "${record.gpuSku}" has no price in force at ${formatTimestamp(at)}`;
  }
  if (record.type === 'usage' && record.tenant === IDLE_TENANT) {
    return `tenant: "${IDLE_TENANT}" is reserved for idle GPU-time`;
  }
  return undefined;
}
