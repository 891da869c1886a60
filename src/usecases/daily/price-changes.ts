import type { PriceCard } from '../../domain/prices.js';
import type { Ledger } from '../../ports/ledger.js';
import type { ReportStore } from '../../ports/report-store.js';

/**
 * A price card correction must reach the reports already written with the old prices. The daily
 * run keeps, in the ledger, one record per SKU of the card it last saw; when the card it runs with
 * differs, every reported day from the first instant at which some GPU-second costs differently
 * (bounded by RESTATE_DAYS) is marked dirty, and the same run queues those days again.
 */

const DAY_MS = 86_400_000;
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** [effectiveFrom in epoch microseconds, GPUs per VM, VM-hour price in nano-units]. */
type Period = readonly [number, number, number];

interface PriceRecord {
  readonly currency: string;
  readonly periods: readonly Period[];
}

/** Each SKU's prices as a canonical string: equal strings price every instant alike. */
export function priceRecords(card: PriceCard, skus: Iterable<string>): Map<string, string> {
  const records = new Map<string, string>();
  for (const sku of [...new Set(skus)].sort()) {
    const periods = (card.periods(sku) ?? []).map((p): Period => [p.from, p.gpusPerVm, p.vmHourNanos]);
    records.set(sku, JSON.stringify({ currency: card.currency, periods } satisfies PriceRecord));
  }
  return records;
}

/**
 * The earliest instant (epoch microseconds) at which the two cards price some SKU differently, or
 * undefined when they agree everywhere. Between two effectiveFrom instants neither card's price
 * moves, so comparing at every effectiveFrom of either card finds the first difference.
 */
export function earliestPriceChange(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): number | undefined {
  let earliest: number | undefined;
  for (const sku of new Set([...before.keys(), ...after.keys()])) {
    const a = parse(before.get(sku));
    const b = parse(after.get(sku));
    const changed = firstDifference(a, b);
    if (changed !== undefined && (earliest === undefined || changed < earliest)) earliest = changed;
  }
  return earliest;
}

function firstDifference(a: PriceRecord | undefined, b: PriceRecord | undefined): number | undefined {
  const starts = [...(a?.periods ?? []), ...(b?.periods ?? [])].map((p) => p[0]).sort((x, y) => x - y);
  if (a === undefined || b === undefined || a.currency !== b.currency) return starts[0];
  for (const t of starts) {
    const pa = priceAt(a, t);
    const pb = priceAt(b, t);
    if (pa?.[1] !== pb?.[1] || pa?.[2] !== pb?.[2]) return t;
  }
  return undefined;
}

function priceAt(record: PriceRecord, t: number): Period | undefined {
  let found: Period | undefined;
  for (const p of record.periods) if (p[0] <= t && (found === undefined || p[0] > found[0])) found = p;
  return found;
}

function parse(text: string | undefined): PriceRecord | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as PriceRecord;
  } catch {
    // An unreadable record compares as absent: the SKU counts as changed from its first price.
    return undefined;
  }
}

export interface PriceChangeDeps {
  readonly ledger: Ledger;
  readonly reports: ReportStore;
  readonly prices: PriceCard;
  /** The SKUs the price card lists. */
  readonly priceSkus: readonly string[];
  readonly now: () => Date;
  readonly restateDays: number;
}

/**
 * Compares the card with the one last seen, marks the reported days it changes dirty, then
 * remembers the card. Marking comes first: a crash between the two marks the days again next
 * time, never not at all. The first run has nothing to compare with and marks nothing.
 */
export async function markPriceChanges(
  deps: PriceChangeDeps,
): Promise<{ changedFrom?: string; days: string[] }> {
  const current = priceRecords(deps.prices, deps.priceSkus);
  const seen = await deps.ledger.pricesSeen();
  if (seen.size > 0) {
    const changed = earliestPriceChange(seen, current);
    if (changed !== undefined) {
      const now = deps.now().getTime();
      const from = Math.max(Math.floor(changed / 1000), now - deps.restateDays * DAY_MS);
      const days: string[] = [];
      for (let day = dayOf(from); day < dayOf(now); day = dayOf(Date.parse(`${day}T00:00:00Z`) + DAY_MS)) {
        if ((await deps.reports.info(day)) !== undefined) days.push(day);
      }
      if (days.length > 0) await deps.ledger.markDirty(days, deps.now().toISOString());
      await deps.ledger.rememberPrices(current);
      return { changedFrom: dayOf(Math.floor(changed / 1000)), days };
    }
  }
  if (!sameRecords(seen, current)) await deps.ledger.rememberPrices(current);
  return { days: [] };
}

function sameRecords(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([sku, record]) => b.get(sku) === record);
}
