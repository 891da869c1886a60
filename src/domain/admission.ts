import { activeStart } from './allocation.js';
import { implausibleTokens } from './plausibility.js';
import type { PriceCard } from './prices.js';
import type { AccountingRecord } from './records.js';

/** Tenant name reserved for the idle rows of the report (contracts.md §4.3). */
export const IDLE_TENANT = '(idle)';

/**
 * Why a schema-valid event still cannot be accounted, or undefined when it can: a SKU the price card
 * does not know at all (contracts.md §3: an error naming the SKU, never a zero), a usage event claiming
 * the reserved idle tenant, or one whose token counts no request could produce (see plausibility.ts). The CLI and the ingestion share this rule.
 *
 * Whether the SKU has a price at the event's time is not judged here, on purpose: a window that
 * starts before the SKU's first price is priced for the rest of its time, and GPU-time of the
 * reported day that the card cannot price fails the report, naming the SKU and the interval (see
 * allocatePod), instead of the whole window vanishing from the fleet cost.
 */
export function admissionProblem(prices: PriceCard, record: AccountingRecord): string | undefined {
  if (prices.periods(record.gpuSku) === undefined) {
    return `gpuSku: "${record.gpuSku}" is not on the price card`;
  }
  if (record.type === 'usage' && record.tenant === IDLE_TENANT) {
    return `tenant: "${IDLE_TENANT}" is reserved for idle GPU-time`;
  }
  if (record.type === 'usage') return implausibleTokens(record, activeStart(record));
  return undefined;
}
