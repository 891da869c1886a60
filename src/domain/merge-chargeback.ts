import { podOrder, type ChargebackResult, type ChargebackRow } from './chargeback.js';
import { LatencyCounts } from './metrics/latency-counts.js';
import { addRequestStats, type RequestStats } from './metrics/request-stats.js';

const SEPARATOR = '\u0000';

/**
 * Merges the chargebacks of disjoint sets of pods into the chargeback of their union. Exact: a
 * pod's allocation depends on that pod alone, rows are integer sums, latency counts and
 * histograms are added, replicas are put in the one-pass order.
 */
export function mergeChargeback(parts: readonly ChargebackResult[]): ChargebackResult {
  const rows = new Map<string, { row: ChargebackRow; latencies: LatencyCounts[]; stats: RequestStats[] }>();
  for (const part of parts) {
    for (const row of part.rows) {
      const key = [row.tenant, row.feature, row.model, row.requestClass].join(SEPARATOR);
      const seen = rows.get(key);
      if (seen === undefined) {
        rows.set(key, { row: { ...row }, latencies: [row.latencies], stats: [row.stats] });
        continue;
      }
      const r = seen.row;
      seen.row = {
        ...r,
        requests: r.requests + row.requests,
        errorRequests: r.errorRequests + row.errorRequests,
        promptTokens: r.promptTokens + row.promptTokens,
        completionTokens: r.completionTokens + row.completionTokens,
        cachedPromptTokens: r.cachedPromptTokens + row.cachedPromptTokens,
        gpuMicros: r.gpuMicros + row.gpuMicros,
        nanos: r.nanos + row.nanos,
      };
      seen.latencies.push(row.latencies);
      seen.stats.push(row.stats);
    }
  }
  const total = (value: (r: ChargebackResult) => number): number => sum(parts, value);
  return {
    rows: [...rows.values()].map(({ row, latencies, stats }) => ({
      ...row,
      latencies: LatencyCounts.merge(latencies),
      stats: addRequestStats(stats),
    })),
    fleetNanos: total((r) => r.fleetNanos),
    allocatedNanos: total((r) => r.allocatedNanos),
    idleNanos: total((r) => r.idleNanos),
    fleetGpuMicros: total((r) => r.fleetGpuMicros),
    allocatedGpuMicros: total((r) => r.allocatedGpuMicros),
    idleGpuMicros: total((r) => r.idleGpuMicros),
    requests: total((r) => r.requests),
    unmeteredRequests: total((r) => r.unmeteredRequests),
    pods: total((r) => r.pods),
    podTotals: parts.flatMap((r) => r.podTotals).sort(podOrder),
    ...(parts.some((r) => r.requestCosts !== undefined)
      ? { requestCosts: parts.flatMap((r) => r.requestCosts ?? []) }
      : {}),
  };
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}
