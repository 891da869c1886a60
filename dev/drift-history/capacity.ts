import type { CapacityMetrics, FleetMetrics, GroupMetrics } from '../../src/domain/metrics/metrics.js';
import type { Random } from '../../src/simulator/random.js';
import type { ModelSpec } from './fleet.js';
import { NOISE, USD_PER_GPU_SECOND, clampedNormal, round } from './group-day.js';

/**
 * A model's GPU-time for the day: its pods run all day (one VM each), the groups' GPU-seconds are
 * allocated evenly over them, and the rest is idle. `scaleOut` multiplies the pods, as a
 * deployment scaled out and never scaled back would.
 */
export function capacityOf(
  model: ModelSpec,
  groups: readonly GroupMetrics[],
  podCount: number,
  scaleOut: number,
  podName: (model: string, index: number) => string,
): { model: CapacityMetrics; pods: CapacityMetrics[] } {
  const count = Math.max(1, Math.round(podCount * scaleOut));
  const demand = groups.filter((g) => g.model === model.name).reduce((sum, g) => sum + g.gpuSeconds, 0);
  const podFleet = model.gpusPerPod * 86_400;
  // A pod cannot allocate more than it ran; a calibrated fleet never gets there, but an incident might.
  const podAllocated = Math.min(podFleet, demand / count);
  const pods = Array.from({ length: count }, (_, i) =>
    row(model, podFleet, podAllocated, podName(model.name, i)),
  );
  return { model: row(model, podFleet * count, podAllocated * count), pods };
}

function row(model: ModelSpec, fleet: number, allocated: number, pod?: string): CapacityMetrics {
  const idle = fleet - allocated;
  return {
    model: model.name,
    ...(pod === undefined ? {} : { pod }),
    gpuSku: model.gpuSku,
    fleetGpuSeconds: round(fleet, 3),
    allocatedGpuSeconds: round(allocated, 3),
    idleGpuSeconds: round(idle, 3),
    fleetCostUsd: round(fleet * USD_PER_GPU_SECOND, 6),
    allocatedCostUsd: round(allocated * USD_PER_GPU_SECOND, 6),
    idleCostUsd: round(idle * USD_PER_GPU_SECOND, 6),
  };
}

/** Base rates of the pipeline's side counts, per usage event. */
export const EVENT_RATES = { duplicates: 0.002, rejected: 0.0003, unmetered: 0.0001 } as const;

/** The summary's fleet figures; `rejectedFactor` is how far a data-quality incident multiplies rejections. */
export function fleetOf(
  models: readonly CapacityMetrics[],
  groups: readonly GroupMetrics[],
  podCount: number,
  random: Random,
  rejectedFactor: number,
): FleetMetrics {
  const sum = (
    key: (keyof CapacityMetrics & `${string}Seconds`) | (keyof CapacityMetrics & `${string}Usd`),
  ) => models.reduce((s, m) => s + m[key], 0);
  const usageEvents = groups.reduce((s, g) => s + g.requests, 0);
  const side = (rate: number) =>
    Math.round(usageEvents * rate * Math.exp(NOISE.eventSigma * clampedNormal(random)));
  const duplicatesDropped = side(EVENT_RATES.duplicates);
  const rejected = Math.round(side(EVENT_RATES.rejected) * rejectedFactor);
  const unmeteredRequests = side(EVENT_RATES.unmetered);
  const capacityEvents = podCount * 1440; // one capacity sample a minute per pod
  return {
    fleetCostUsd: round(sum('fleetCostUsd'), 6),
    allocatedCostUsd: round(sum('allocatedCostUsd'), 6),
    idleCostUsd: round(sum('idleCostUsd'), 6),
    fleetGpuSeconds: round(sum('fleetGpuSeconds'), 3),
    allocatedGpuSeconds: round(sum('allocatedGpuSeconds'), 3),
    idleGpuSeconds: round(sum('idleGpuSeconds'), 3),
    eventsRead: usageEvents + capacityEvents + duplicatesDropped + rejected,
    usageEvents,
    capacityEvents,
    duplicatesDropped,
    rejected,
    unmeteredRequests,
  };
}
