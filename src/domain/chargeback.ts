import { IDLE_TENANT } from './accumulator.js';
import {
  activeStart,
  allocatePod,
  canonicalOrder,
  type PodAllocation,
  type PodTimeline,
  type RequestShare,
} from './allocation.js';
import { apportion } from './apportion.js';
import type { Interval } from './intervals.js';
import { LatencyCountsBuilder, type LatencyCounts } from './metrics/latency-counts.js';
import { RequestStatsBuilder, type RequestStats } from './metrics/request-stats.js';
import type { Nanos, PriceCard } from './prices.js';
import type { CapacityRecord, UsageRecord } from './records.js';
import type { Micros } from './timestamp.js';
import type { Weighting } from './weighting.js';
import type { RequestCost } from './requests/request-cost.js';

export type IdlePolicy = 'separate' | 'share';

export interface ChargebackInput {
  readonly date: string;
  readonly dayStart: Micros;
  readonly dayEnd: Micros;
  readonly usage: readonly UsageRecord[];
  readonly capacity: readonly CapacityRecord[];
  readonly prices: PriceCard;
  readonly weighting: Weighting;
  /** A deployment's own weighting (calibrated constants), when it has one; `weighting` otherwise. */
  readonly weightingFor?: (deployment: {
    model: string;
    gpuSku: string;
    gpuCount: number;
  }) => Weighting | undefined;
  readonly idle: IdlePolicy;
  /** Also return every request's cost of the day (`requestCosts`). */
  readonly keepRequests?: boolean;
  /**
   * Called with every request's cost of the day, pod by pod, as each pod is allocated: the costs
   * can then be written out as they come instead of being held for the whole day.
   */
  readonly onRequestCost?: (cost: RequestCost) => void;
}

/** One row of the daily report (contracts.md §5), before formatting. Money in nano-dollars. */
export interface ChargebackRow {
  readonly tenant: string;
  readonly feature: string;
  readonly model: string;
  readonly requestClass: string;
  readonly idle: boolean;
  readonly requests: number;
  readonly errorRequests: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedPromptTokens: number;
  readonly gpuMicros: number;
  readonly nanos: Nanos;
  /**
   * End-to-end latencies of the requests that finished this day, in whole milliseconds
   * (Math.round((finishedAt - startedAt) / 1000)), counted per millisecond.
   */
  readonly latencies: LatencyCounts;
  /** The daily metrics' figures (contracts.md §8) of the same requests: those counted in `requests`. */
  readonly stats: RequestStats;
}

/**
 * One replica's GPU-time and cost that day, before the idle policy: idle is the held time no
 * request was active, whether the report shows it in idle rows or spreads it (contracts.md §4.3).
 */
export interface PodTotals {
  readonly pod: string;
  readonly model: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly fleetNanos: Nanos;
  readonly fleetGpuMicros: number;
  readonly idleNanos: Nanos;
  readonly idleGpuMicros: number;
  /** The requests it served that finished this day (contracts.md §4.7). */
  readonly served: RequestStats;
}

export interface ChargebackResult {
  readonly rows: readonly ChargebackRow[];
  readonly fleetNanos: Nanos;
  readonly allocatedNanos: Nanos;
  readonly idleNanos: Nanos;
  readonly fleetGpuMicros: number;
  readonly allocatedGpuMicros: number;
  readonly idleGpuMicros: number;
  readonly requests: number;
  readonly unmeteredRequests: number;
  readonly pods: number;
  /** Per replica, in the order of podOrder. */
  readonly podTotals: readonly PodTotals[];
  /**
   * With `keepRequests`: one cost per request with a share of the day, pod by pod. Their nanos add
   * up to allocatedNanos exactly (under `share`, the idle spread over them included).
   */
  readonly requestCosts?: readonly RequestCost[];
}

const SEPARATOR = '\u0000';

/** The whole of contracts.md §4 for one UTC day: allocation per pod, idle policy, rows. */
export function computeChargeback(input: ChargebackInput): ChargebackResult {
  const allocations = [...timelines(input)].map((timeline) =>
    allocatePod(
      timeline,
      input.dayStart,
      input.dayEnd,
      input.prices,
      input.weightingFor?.(timeline) ?? input.weighting,
    ),
  );
  const groups = new Groups();
  let unmeteredRequests = 0;
  let requests = 0;
  let idleNanos = 0;
  let idleGpuMicros = 0;
  const podTotals: PodTotals[] = [];
  const requestCosts: RequestCost[] | undefined = input.keepRequests === true ? [] : undefined;
  for (const allocation of allocations) {
    const { shares, idle, extra } = applyIdlePolicy(allocation, input.idle);
    const emit = input.onRequestCost;
    if (requestCosts !== undefined || emit !== undefined)
      shares.forEach((share, i) => {
        const cost = requestCost(share, extra?.nanos[i] ?? 0, extra?.micros[i] ?? 0);
        requestCosts?.push(cost);
        emit?.(cost);
      });
    const served = new RequestStatsBuilder();
    idleNanos += idle.nanos;
    idleGpuMicros += idle.gpuMicros;
    if (idle.nanos > 0 || idle.gpuMicros > 0) {
      const totals = groups.get(IDLE_TENANT, IDLE_TENANT, allocation.model, IDLE_TENANT);
      totals.nanos += idle.nanos;
      totals.gpuMicros += idle.gpuMicros;
    }
    for (const share of shares) {
      const r = share.request;
      const totals = groups.get(r.tenant, r.feature, r.model, r.requestClass);
      totals.nanos += share.nanos;
      totals.gpuMicros += share.gpuMicros;
      // contracts.md §4.7: request and token counts belong to the day of finishedAt.
      if (r.finishedAt < input.dayStart || r.finishedAt >= input.dayEnd) continue;
      requests += 1;
      if (!share.metered) unmeteredRequests += 1;
      totals.requests += 1;
      if (r.status === 'error') totals.errorRequests += 1;
      totals.promptTokens += r.promptTokens;
      totals.completionTokens += r.completionTokens;
      totals.cachedPromptTokens += r.cachedPromptTokens;
      // Whole milliseconds are all the CSV prints (contracts.md §5), and rounding first keeps its percentiles.
      totals.latencies.add(Math.round((r.finishedAt - r.startedAt) / 1000));
      totals.stats.add(r);
      served.add(r);
    }
    const { shares: _, ...pod } = allocation;
    podTotals.push({ ...pod, served: served.stats() });
  }
  const fleetNanos = sum(allocations, (a) => a.fleetNanos);
  const fleetGpuMicros = sum(allocations, (a) => a.fleetGpuMicros);
  return {
    rows: groups.entries.map(({ key, totals }) => toRow(key, totals)).filter(hasActivity),
    fleetNanos,
    allocatedNanos: fleetNanos - idleNanos,
    idleNanos,
    fleetGpuMicros,
    allocatedGpuMicros: fleetGpuMicros - idleGpuMicros,
    idleGpuMicros,
    requests,
    unmeteredRequests,
    pods: allocations.length,
    podTotals: podTotals.sort(podOrder),
    ...(requestCosts === undefined ? {} : { requestCosts }),
  };
}

interface GroupTotals {
  requests: number;
  errorRequests: number;
  promptTokens: number;
  completionTokens: number;
  cachedPromptTokens: number;
  gpuMicros: number;
  nanos: Nanos;
  latencies: LatencyCountsBuilder;
  stats: RequestStatsBuilder;
}

/** Totals by (tenant, feature, model, requestClass), found through nested maps: no key string per request. */
class Groups {
  readonly entries: { key: readonly [string, string, string, string]; totals: GroupTotals }[] = [];
  private readonly root = new Map<string, Map<string, Map<string, Map<string, GroupTotals>>>>();

  get(tenant: string, feature: string, model: string, requestClass: string): GroupTotals {
    const byFeature = getOrCreate(
      this.root,
      tenant,
      () => new Map<string, Map<string, Map<string, GroupTotals>>>(),
    );
    const byModel = getOrCreate(byFeature, feature, () => new Map<string, Map<string, GroupTotals>>());
    const byClass = getOrCreate(byModel, model, () => new Map<string, GroupTotals>());
    return getOrCreate(byClass, requestClass, () => {
      const totals: GroupTotals = {
        requests: 0,
        errorRequests: 0,
        promptTokens: 0,
        completionTokens: 0,
        cachedPromptTokens: 0,
        gpuMicros: 0,
        nanos: 0,
        latencies: new LatencyCountsBuilder(),
        stats: new RequestStatsBuilder(),
      };
      this.entries.push({ key: [tenant, feature, model, requestClass], totals });
      return totals;
    });
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

function toRow(key: readonly [string, string, string, string], totals: GroupTotals): ChargebackRow {
  const [tenant, feature, model, requestClass] = key;
  const latencies = totals.latencies.latencyCounts();
  const idle = tenant === IDLE_TENANT;
  return { tenant, feature, model, requestClass, idle, ...totals, latencies, stats: totals.stats.stats() };
}

function hasActivity(row: ChargebackRow): boolean {
  return row.requests > 0 || row.nanos > 0 || row.gpuMicros > 0;
}

/** Groups records by serving replica; requests outside the day's reach are left out. */
function timelines(input: ChargebackInput): Iterable<PodTimeline> {
  interface Pod {
    first: UsageRecord | CapacityRecord;
    key: string;
    models: Set<string>;
    windows: Interval[];
    requests: UsageRecord[];
  }
  const pods = new Map<string, Map<string, Map<number, Pod>>>();
  const all: Pod[] = [];
  const podOf = (record: UsageRecord | CapacityRecord): Pod => {
    const bySku = getOrCreate(pods, record.pod, () => new Map<string, Map<number, Pod>>());
    const byCount = getOrCreate(bySku, record.gpuSku, () => new Map<number, Pod>());
    return getOrCreate(byCount, record.gpuCount, () => {
      const key = [record.pod, record.gpuSku, record.gpuCount].join(SEPARATOR);
      const pod: Pod = { first: record, key, models: new Set(), windows: [], requests: [] };
      all.push(pod);
      return pod;
    });
  };
  for (const window of input.capacity) {
    const pod = podOf(window);
    pod.windows.push({ start: window.windowStart, end: window.windowEnd });
    pod.models.add(window.model);
  }
  for (const request of input.usage) {
    if (request.finishedAt < input.dayStart || activeStart(request) >= input.dayEnd) continue;
    podOf(request).requests.push(request);
  }
  for (const pod of all) {
    if (pod.models.size === 0) for (const r of pod.requests) pod.models.add(r.model);
  }
  return all
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((pod) => ({
      pod: pod.first.pod,
      // A replica serves one model; the capacity events name it (the first by name, should they disagree).
      model: [...pod.models].sort()[0] ?? '',
      gpuSku: pod.first.gpuSku,
      gpuCount: pod.first.gpuCount,
      windows: pod.windows,
      requests: pod.requests.sort(canonicalOrder),
    }));
}

/** contracts.md §4.3: `share` spreads a pod's idle cost over its requests pro rata to their allocated cost. */
function applyIdlePolicy(
  allocation: PodAllocation,
  policy: IdlePolicy,
): {
  shares: PodAllocation['shares'];
  idle: { nanos: Nanos; gpuMicros: number };
  /** Under `share`: what each request got of the idle time. */
  extra?: { nanos: readonly number[]; micros: readonly number[] };
} {
  const idle = { nanos: allocation.idleNanos, gpuMicros: allocation.idleGpuMicros };
  const allocated = sum(allocation.shares, (s) => s.nanos);
  if (policy === 'separate' || allocated === 0) return { shares: allocation.shares, idle };
  const weights = allocation.shares.map((s) => s.nanos);
  const extraNanos = apportion(idle.nanos, weights);
  const extraMicros = apportion(idle.gpuMicros, weights);
  return {
    shares: allocation.shares.map((s, i) => ({
      ...s,
      nanos: s.nanos + (extraNanos[i] ?? 0),
      gpuMicros: s.gpuMicros + (extraMicros[i] ?? 0),
    })),
    idle: { nanos: 0, gpuMicros: 0 },
    extra: { nanos: extraNanos, micros: extraMicros },
  };
}

/** A share as a RequestCost; `idleNanos`/`idleMicros`: what `share` added to it (already in the share). */
function requestCost(share: RequestShare, idleNanos: Nanos, idleMicros: number): RequestCost {
  const r = share.request;
  return {
    requestId: r.requestId,
    eventId: r.eventId,
    tenant: r.tenant,
    feature: r.feature,
    model: r.model,
    requestClass: r.requestClass,
    pod: r.pod,
    gpuSku: r.gpuSku,
    gpuCount: r.gpuCount,
    startedAt: r.startedAt,
    firstTokenAt: r.firstTokenAt,
    finishedAt: r.finishedAt,
    queueMs: r.queueMs,
    promptTokens: r.promptTokens,
    cachedPromptTokens: r.cachedPromptTokens,
    completionTokens: r.completionTokens,
    status: r.status,
    metered: share.metered,
    gpuMicros: share.gpuMicros,
    prefillGpuMicros: share.prefillGpuMicros,
    decodeGpuMicros: share.decodeGpuMicros,
    fixedGpuMicros: share.fixedGpuMicros,
    idleGpuMicros: idleMicros,
    nanos: share.nanos,
    idleNanos,
    meanConcurrency: share.meanConcurrency,
    maxConcurrency: share.maxConcurrency,
  };
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}

/** Replicas by pod, VM size and GPU count: the same order whichever partition computed them. */
export function podOrder(a: PodTotals, b: PodTotals): number {
  if (a.pod !== b.pod) return a.pod < b.pod ? -1 : 1;
  if (a.gpuSku !== b.gpuSku) return a.gpuSku < b.gpuSku ? -1 : 1;
  return a.gpuCount - b.gpuCount;
}
