import { hash53 } from '../hash.js';
import type { UsageRecord } from '../records.js';

interface Keyed {
  readonly key: number;
  readonly record: UsageRecord;
}

const before = (a: Keyed, b: Keyed): boolean =>
  a.key < b.key || (a.key === b.key && a.record.eventId < b.record.eventId);

/**
 * The `limit` smallest of what it is given, in order, holding no more than that: a day of tens of
 * millions of events is sampled in the memory of its sample. A copy of an eventId already held
 * (Event Hubs delivers at least once) is the same event and is not held twice.
 */
class Smallest {
  readonly items: Keyed[] = [];
  constructor(private readonly limit: number) {}

  offer(k: Keyed): void {
    if (this.limit === 0) return;
    const last = this.items[this.items.length - 1];
    if (this.items.length === this.limit && last !== undefined && !before(k, last)) return;
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.items[mid];
      if (m !== undefined && before(m, k)) lo = mid + 1;
      else hi = mid;
    }
    if (this.items[lo]?.record.eventId === k.record.eventId) return;
    this.items.splice(lo, 0, k);
    if (this.items.length > this.limit) this.items.pop();
  }
}

export interface SampledWorkload {
  /**
   * The events chosen, in the order of their hash; then those added to reach each group's floor,
   * group by group. An event of a group smaller than the floor appears more than once.
   */
  readonly chosen: readonly UsageRecord[];
  /** Requests added beyond the sample's size so that every (feature, requestClass) reaches the floor. */
  readonly added: number;
  /** The model's completed generations read (a copy of an event counted each time it came). */
  readonly eligible: number;
  /** The model's `ok` events left out because they generated nothing (pooling, embeddings). */
  readonly notGenerations: number;
}

/**
 * The workload sample of domain/replay/workload.ts, built one event at a time: the `size` events
 * whose key (the hash of the eventId, or of `seed:eventId`) is smallest, and for each (feature,
 * requestClass) its `perGroup` smallest, which is all a group's floor can need. Its memory is the
 * sample's, not the day's.
 */
export class WorkloadSampler {
  private readonly overall: Smallest;
  private readonly groups = new Map<string, Smallest>();
  private eligible = 0;
  private notGenerations = 0;

  constructor(
    private readonly model: string,
    size: number,
    private readonly seed?: string,
    private readonly perGroup = 0,
  ) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`sample size must be a whole number >= 1, got ${size}`);
    if (!Number.isInteger(perGroup) || perGroup < 0)
      throw new RangeError(`the floor per group must be a whole number >= 0, got ${perGroup}`);
    this.overall = new Smallest(size);
  }

  add(record: UsageRecord): void {
    if (record.model !== this.model || record.status !== 'ok') return;
    if (record.completionTokens === 0) {
      this.notGenerations += 1;
      return;
    }
    this.eligible += 1;
    const keyed = {
      key: hash53(this.seed === undefined ? record.eventId : `${this.seed}:${record.eventId}`),
      record,
    };
    this.overall.offer(keyed);
    if (this.perGroup === 0) return;
    const group = groupOf(record);
    let smallest = this.groups.get(group);
    if (smallest === undefined) {
      smallest = new Smallest(this.perGroup);
      this.groups.set(group, smallest);
    }
    smallest.offer(keyed);
  }

  result(): SampledWorkload {
    const chosen = this.overall.items.map((k) => k.record);
    const taken = new Set(chosen.map((r) => r.eventId));
    const have = new Map<string, number>();
    for (const r of chosen) have.set(groupOf(r), (have.get(groupOf(r)) ?? 0) + 1);
    let added = 0;
    for (const [group, smallest] of [...this.groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const records = smallest.items.map((k) => k.record);
      // Those not sampled yet first, then the group again from its start.
      const next = [...records.filter((r) => !taken.has(r.eventId)), ...records];
      for (let count = have.get(group) ?? 0, i = 0; count < this.perGroup; count += 1, i += 1) {
        const record = next[i % next.length];
        if (record === undefined) break;
        chosen.push(record);
        added += 1;
      }
    }
    return { chosen, added, eligible: this.eligible, notGenerations: this.notGenerations };
  }
}

function groupOf(r: UsageRecord): string {
  return JSON.stringify([r.feature, r.requestClass]);
}
