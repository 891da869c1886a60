import { admissionProblem } from './admission.js';
import type { RecordResult } from './fast-parse.js';
import type { PriceCard } from './prices.js';
import type { CapacityRecord, UsageRecord } from './records.js';

export { IDLE_TENANT } from './admission.js';

export interface IntakeCounts {
  eventsRead: number;
  usageEvents: number;
  capacityEvents: number;
  /** Valid events of another type (evaluation) that chargeback does not use. */
  ignoredEvents: number;
  duplicatesDropped: number;
  rejected: number;
}

/** Counts before the first event. */
export function noCounts(): IntakeCounts {
  return {
    eventsRead: 0,
    usageEvents: 0,
    capacityEvents: 0,
    ignoredEvents: 0,
    duplicatesDropped: 0,
    rejected: 0,
  };
}

/**
 * Collects validated events exactly once by eventId (SPEC 4.6). A repeated eventId with the same
 * content is a redelivery and is dropped; with different content, the version that sorts first
 * canonically is kept whatever the arrival order, and the other is rejected with a reason.
 * Events the price card cannot price are rejected here, naming the SKU (SPEC 3). Parse with
 * `parseRecord(value, accumulator.intern)` so that records share their repeated strings.
 */
export class EventAccumulator {
  readonly counts: IntakeCounts = noCounts();
  private readonly byId = new Map<string, UsageRecord | CapacityRecord>();
  private readonly strings = new Map<string, string>();

  constructor(private readonly prices: PriceCard) {}

  /** Takes one parsed line or message; returns the reason when it is rejected, else undefined. */
  add(result: RecordResult): string | undefined {
    this.counts.eventsRead += 1;
    if (!result.ok) return this.reject(result.reason);
    const record = result.record;
    if (record === null) {
      this.counts.ignoredEvents += 1;
      return undefined;
    }
    const problem = admissionProblem(this.prices, record);
    if (problem !== undefined) return this.reject(problem);
    const existing = this.byId.get(record.eventId);
    if (existing === undefined) {
      this.byId.set(record.eventId, record);
      if (record.type === 'usage') this.counts.usageEvents += 1;
      else this.counts.capacityEvents += 1;
      return undefined;
    }
    const kept = JSON.stringify(existing);
    const offered = JSON.stringify(record);
    if (kept === offered) {
      this.counts.duplicatesDropped += 1;
      return undefined;
    }
    if (offered < kept) {
      this.counts[existing.type === 'usage' ? 'usageEvents' : 'capacityEvents'] -= 1;
      this.counts[record.type === 'usage' ? 'usageEvents' : 'capacityEvents'] += 1;
      this.byId.set(record.eventId, record);
    }
    return this.reject(
      `eventId "${record.eventId}" was already seen with different content; kept one version`,
    );
  }

  /** Every accepted usage event. */
  usage(): UsageRecord[] {
    const usage: UsageRecord[] = [];
    for (const record of this.byId.values()) if (record.type === 'usage') usage.push(record);
    return usage;
  }

  /** Every accepted capacity event. */
  capacity(): CapacityRecord[] {
    const capacity: CapacityRecord[] = [];
    for (const record of this.byId.values()) if (record.type === 'capacity') capacity.push(record);
    return capacity;
  }

  private reject(reason: string): string {
    this.counts.rejected += 1;
    return reason;
  }

  /** Shares the few distinct names among a million events instead of keeping a copy per event. */
  readonly intern = (value: string): string => {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    this.strings.set(value, value);
    return value;
  };
}
