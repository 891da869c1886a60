import { admissionProblem } from './admission.js';
import type { RecordResult } from './fast-parse.js';
import type { PriceCard } from './prices.js';
import {
  canonicalContent,
  contentFields,
  type AccountingRecord,
  type CapacityRecord,
  type UsageRecord,
} from './records.js';

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
 * What was read, beyond the counts: the rejections by reason and the instants the events covered.
 * Kept so that a day with input and nothing to bill can say what its input was (contracts.md §6).
 */
export interface Intake {
  readonly counts: IntakeCounts;
  /** Rejection reasons, each with how many events it rejected. */
  readonly rejections: ReadonlyMap<string, number>;
  /** The earliest start and latest end of every event that parsed, rejected or not (µs). */
  readonly span?: { readonly firstUs: number; readonly lastUs: number };
}

/** The intake of two sets of events read apart (partitions of one day), as if read together. */
export function mergeIntake(a: Intake, b: Intake): Intake {
  const counts = { ...a.counts };
  for (const key of Object.keys(counts) as (keyof IntakeCounts)[]) counts[key] += b.counts[key];
  const rejections = new Map(a.rejections);
  for (const [reason, n] of b.rejections) tally(rejections, reason, n);
  const span =
    a.span === undefined || b.span === undefined
      ? (a.span ?? b.span)
      : { firstUs: Math.min(a.span.firstUs, b.span.firstUs), lastUs: Math.max(a.span.lastUs, b.span.lastUs) };
  return { counts, rejections, ...(span === undefined ? {} : { span }) };
}

/** Distinct reasons kept by name; the rest are counted together, so a flood of distinct reasons stays small. */
const MAX_REASONS = 100;
export const OTHER_REASONS = '(other reasons)';
const CONFLICT_REASON = 'eventId has another version, which was kept';

function tally(rejections: Map<string, number>, reason: string, n = 1): void {
  const key = rejections.has(reason) || rejections.size < MAX_REASONS ? reason : OTHER_REASONS;
  rejections.set(key, (rejections.get(key) ?? 0) + n);
}

/** A copy of an event rejected because another version of its eventId was kept. */
export interface ConflictRejection<W> {
  readonly eventId: string;
  /** Where the copy was read, as given to `add`. */
  readonly where: W | undefined;
  readonly reason: string;
}

/** The copies of one version of a conflicting eventId. */
interface Version<W> {
  readonly record: AccountingRecord;
  readonly content: string;
  copies: number;
  readonly wheres: (W | undefined)[];
}

/**
 * Collects validated events exactly once by eventId (contracts.md §4.6), with an outcome that does not
 * depend on the order of arrival. Two copies are the same version when their canonical content
 * (see canonicalContent) is equal. When an eventId has one version, its first copy is kept and
 * the others are duplicates. When it has several, the version whose canonical content sorts first
 * is kept (its copies beyond the first are duplicates) and every copy of every other version is
 * rejected, naming the eventId and the fields in which it differs from the kept version. Which
 * copy is a conflict is known only at the end, so those rejections come from `conflicts()`, and
 * `counts` include them. Parse with `parseRecord(value, accumulator.intern)` so that records
 * share their repeated strings.
 */
export class EventAccumulator<W = undefined> {
  /** Counts of the events whose eventId has a single version; conflicting ones are added by `counts`. */
  private readonly base: IntakeCounts = noCounts();
  private readonly byId = new Map<string, AccountingRecord>();
  // Where the copies of a single-version eventId were read (repeats: only of the few repeated
  // eventIds): needed should another version turn up.
  private readonly firstWhere = new Map<string, W>();
  private readonly repeatWheres = new Map<string, (W | undefined)[]>();
  private readonly versions = new Map<string, Version<W>[]>();
  private readonly strings = new Map<string, string>();
  private readonly reasons = new Map<string, number>();
  private firstUs = Infinity;
  private lastUs = -Infinity;

  constructor(private readonly prices: PriceCard) {}

  /**
   * Takes one parsed line or message, read at `where`; returns the reason when the line is
   * rejected on its own, else undefined (a conflicting version is reported by `conflicts()`).
   */
  add(result: RecordResult, where?: W): string | undefined {
    this.base.eventsRead += 1;
    if (!result.ok) return this.reject(result.reason);
    const record = result.record;
    if (record === null) {
      this.base.ignoredEvents += 1;
      return undefined;
    }
    this.spanTo(record);
    const problem = admissionProblem(this.prices, record);
    if (problem !== undefined) return this.reject(problem);
    const id = record.eventId;
    const existing = this.byId.get(id);
    if (existing === undefined) {
      this.byId.set(id, record);
      this.base[record.type === 'usage' ? 'usageEvents' : 'capacityEvents'] += 1;
      if (where !== undefined) this.firstWhere.set(id, where);
      return undefined;
    }
    const content = canonicalContent(record);
    let versions = this.versions.get(id);
    if (versions === undefined) {
      const existingContent = canonicalContent(existing);
      if (existingContent === content) {
        this.base.duplicatesDropped += 1;
        // Copies may differ in what accounting does not read; the request id is kept, so the
        // smallest is kept, whatever order the copies came in.
        if (record.type === 'usage' && existing.type === 'usage' && record.requestId < existing.requestId)
          this.byId.set(id, { ...existing, requestId: record.requestId });
        const repeats = this.repeatWheres.get(id) ?? [];
        repeats.push(where);
        this.repeatWheres.set(id, repeats);
        return undefined;
      }
      // A second version: this eventId's copies are settled at the end, in `counts` and `conflicts`.
      const repeats = this.repeatWheres.get(id) ?? [];
      this.base[existing.type === 'usage' ? 'usageEvents' : 'capacityEvents'] -= 1;
      this.base.duplicatesDropped -= repeats.length;
      versions = [
        {
          record: existing,
          content: existingContent,
          copies: 1 + repeats.length,
          wheres: [this.firstWhere.get(id), ...repeats],
        },
      ];
      this.versions.set(id, versions);
      this.firstWhere.delete(id);
      this.repeatWheres.delete(id);
    }
    const same = versions.find((v) => v.content === content);
    if (same === undefined) versions.push({ record, content, copies: 1, wheres: [where] });
    else {
      same.copies += 1;
      same.wheres.push(where);
    }
    const kept = keptVersion(versions);
    this.byId.set(id, kept.record);
    return undefined;
  }

  /** The counts of everything added so far: eventsRead = usage + capacity + ignored + duplicates + rejected. */
  get counts(): IntakeCounts {
    const counts = { ...this.base };
    for (const versions of this.versions.values()) {
      const kept = keptVersion(versions);
      counts[kept.record.type === 'usage' ? 'usageEvents' : 'capacityEvents'] += 1;
      counts.duplicatesDropped += kept.copies - 1;
      for (const version of versions) if (version !== kept) counts.rejected += version.copies;
    }
    return counts;
  }

  /** The counts, the rejections by reason (conflicting copies included) and the span of the events. */
  intake(): Intake {
    const rejections = new Map(this.reasons);
    for (const versions of this.versions.values()) {
      const kept = keptVersion(versions);
      for (const version of versions)
        if (version !== kept) tally(rejections, CONFLICT_REASON, version.copies);
    }
    const span = this.firstUs <= this.lastUs ? { firstUs: this.firstUs, lastUs: this.lastUs } : undefined;
    return { counts: this.counts, rejections, ...(span === undefined ? {} : { span }) };
  }

  /**
   * Every copy of a version that was not kept, by eventId, then version content, then the order
   * in which the copies were read: for a given set of lines, only where they were read changes.
   */
  conflicts(): ConflictRejection<W>[] {
    const rejections: ConflictRejection<W>[] = [];
    const ids = [...this.versions.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const eventId of ids) {
      const versions = this.versions.get(eventId) ?? [];
      const kept = keptVersion(versions);
      const others = versions.filter((v) => v !== kept).sort((a, b) => compare(a.content, b.content));
      for (const version of others) {
        const fields = differingFields(kept.record, version.record).join(', ');
        const reason = `eventId "${eventId}" has another version, which was kept: this one differs in ${fields}`;
        for (const where of version.wheres) rejections.push({ eventId, where, reason });
      }
    }
    return rejections;
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

  /** Widens the span to the record's time (no allocation: this runs once per event). */
  private spanTo(record: AccountingRecord): void {
    const start = record.type === 'usage' ? record.startedAt : record.windowStart;
    const end = record.type === 'usage' ? record.finishedAt : record.windowEnd;
    if (start < this.firstUs) this.firstUs = start;
    if (end > this.lastUs) this.lastUs = end;
  }

  private reject(reason: string): string {
    this.base.rejected += 1;
    tally(this.reasons, reason);
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

/** A total order on content, so that the kept version does not depend on which arrived first. */
function keptVersion<W>(versions: readonly Version<W>[]): Version<W> {
  let kept = versions[0];
  for (const version of versions) if (kept === undefined || version.content < kept.content) kept = version;
  if (kept === undefined) throw new Error('an eventId with no version');
  return kept;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function differingFields(kept: AccountingRecord, other: AccountingRecord): string[] {
  if (kept.type !== other.type) return ['type'];
  const a = kept as unknown as Record<string, unknown>;
  const b = other as unknown as Record<string, unknown>;
  return contentFields(kept).filter((field) => a[field] !== b[field]);
}
