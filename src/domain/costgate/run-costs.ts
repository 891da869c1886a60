import { computeChargeback } from '../chargeback.js';
import type { PriceCard } from '../prices.js';
import type { CapacityRecord, UsageRecord } from '../records.js';
import type { Weighting } from '../weighting.js';

/**
 * What one release cost on a replayed or canary workload (contracts.md §11): the run's events allocated with
 * the accounting rules of the daily report (same weighting, idle kept apart), summed per
 * (feature, model, requestClass) over tenants. Only allocated GPU cost counts: the idle time of a
 * run depends on how the workload was paced, not on the release.
 */
export interface RunGroup {
  readonly feature: string;
  readonly model: string;
  readonly requestClass: string;
  readonly requests: number;
  readonly tokens: number;
  /** Allocated GPU cost in nano-dollars. */
  readonly nanos: number;
  /** The GPU SKUs the group's requests ran on, for the table (a SKU change shows). */
  readonly skus: readonly string[];
}

export interface RunCosts {
  readonly groups: ReadonlyMap<string, RunGroup>;
  readonly requests: number;
  readonly allocatedNanos: number;
  readonly idleNanos: number;
}

export function groupKey(feature: string, model: string, requestClass: string): string {
  return JSON.stringify([feature, model, requestClass]);
}

export function runCosts(input: {
  readonly usage: readonly UsageRecord[];
  readonly capacity: readonly CapacityRecord[];
  readonly prices: PriceCard;
  readonly weighting: Weighting;
}): RunCosts {
  // The run's own span, whatever days it covers: one window from its first to its last instant.
  let start = Number.MAX_SAFE_INTEGER;
  let end = 0;
  for (const c of input.capacity) {
    start = Math.min(start, c.windowStart);
    end = Math.max(end, c.windowEnd);
  }
  for (const u of input.usage) {
    start = Math.min(start, u.startedAt);
    end = Math.max(end, u.finishedAt + 1);
  }
  if (end === 0) return { groups: new Map(), requests: 0, allocatedNanos: 0, idleNanos: 0 };
  const result = computeChargeback({
    date: 'run',
    dayStart: start,
    dayEnd: end,
    usage: input.usage,
    capacity: input.capacity,
    prices: input.prices,
    weighting: input.weighting,
    idle: 'separate',
  });
  const skusByGroup = new Map<string, Set<string>>();
  for (const u of input.usage) {
    const key = groupKey(u.feature, u.model, u.requestClass);
    const set = skusByGroup.get(key) ?? new Set<string>();
    set.add(u.gpuSku);
    skusByGroup.set(key, set);
  }
  const groups = new Map<string, RunGroup>();
  let requests = 0;
  for (const row of result.rows) {
    if (row.idle) continue;
    const key = groupKey(row.feature, row.model, row.requestClass);
    const previous = groups.get(key);
    requests += row.requests;
    groups.set(key, {
      feature: row.feature,
      model: row.model,
      requestClass: row.requestClass,
      requests: (previous?.requests ?? 0) + row.requests,
      tokens: (previous?.tokens ?? 0) + row.promptTokens + row.completionTokens,
      nanos: (previous?.nanos ?? 0) + row.nanos,
      skus: [...(skusByGroup.get(key) ?? [])].sort(),
    });
  }
  return { groups, requests, allocatedNanos: result.allocatedNanos, idleNanos: result.idleNanos };
}
