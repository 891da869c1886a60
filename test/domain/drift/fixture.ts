/** Daily metrics for drift tests: a steady fleet, with any figure overridden per test. */
import { addDays } from '../../../src/domain/days.js';
import { DEFAULT_DRIFT_RULES, type DriftRules } from '../../../src/domain/drift/rules.js';
import { BIN_EDGES, HistogramBuilder } from '../../../src/domain/metrics/histogram.js';
import {
  METRICS_SCHEMA_VERSION,
  type CapacityMetrics,
  type DailyMetrics,
  type FleetMetrics,
  type GroupMetrics,
  type Histogram,
  type HistogramName,
} from '../../../src/domain/metrics/metrics.js';

/** A Monday, so same-weekday baselines are easy to reason about. */
export const TODAY = '2026-11-23';

/** `count` values spread evenly over [from, to], binned with the fixed edges. */
export function spread(name: HistogramName, count: number, from: number, to: number): Histogram {
  const builder = new HistogramBuilder(BIN_EDGES[name]);
  for (let i = 0; i < count; i += 1) builder.add(count === 1 ? from : from + ((to - from) * i) / (count - 1));
  return builder.histogram();
}

export interface GroupShape {
  readonly requests?: number;
  readonly costUsd?: number;
  /** Per request. */
  readonly prompt?: number;
  readonly completion?: number;
  readonly errors?: number;
  readonly latencyMs?: number;
  readonly ttftMs?: number;
}

export function group(key: Partial<GroupMetrics> = {}, shape: GroupShape = {}): GroupMetrics {
  const requests = shape.requests ?? 1000;
  const prompt = shape.prompt ?? 500;
  const completion = shape.completion ?? 200;
  const latency = shape.latencyMs ?? 4000;
  const ttft = shape.ttftMs ?? 400;
  return {
    tenant: 'acme',
    feature: 'chat',
    model: 'llama-3-8b',
    requestClass: 'interactive',
    requests,
    errorRequests: shape.errors ?? Math.round(requests * 0.005),
    abortedRequests: 0,
    requestsWithFirstToken: requests,
    promptTokens: requests * prompt,
    completionTokens: requests * completion,
    cachedPromptTokens: 0,
    gpuSeconds: requests,
    costUsd: shape.costUsd ?? 100,
    histograms: {
      promptTokens: spread('promptTokens', requests, prompt * 0.5, prompt * 1.5),
      completionTokens: spread('completionTokens', requests, completion * 0.5, completion * 1.5),
      latencyMs: spread('latencyMs', requests, latency * 0.5, latency),
      ttftMs: spread('ttftMs', requests, ttft * 0.5, ttft),
      queueMs: spread('queueMs', requests, 0, 10),
    },
    ...key,
  };
}

export function capacity(
  model: string,
  idleShare: number,
  pod?: string,
  fleetCostUsd = 800,
): CapacityMetrics {
  const fleetGpuSeconds = 8 * 86_400;
  return {
    model,
    ...(pod === undefined ? {} : { pod }),
    fleetGpuSeconds,
    allocatedGpuSeconds: fleetGpuSeconds * (1 - idleShare),
    idleGpuSeconds: fleetGpuSeconds * idleShare,
    fleetCostUsd,
    allocatedCostUsd: fleetCostUsd * (1 - idleShare),
    idleCostUsd: fleetCostUsd * idleShare,
  };
}

export interface DayShape {
  readonly groups?: readonly GroupMetrics[];
  readonly models?: readonly CapacityMetrics[];
  readonly pods?: readonly CapacityMetrics[];
  readonly fleet?: Partial<FleetMetrics>;
  readonly revision?: number;
  readonly calibration?: DailyMetrics['calibration'];
  readonly budgets?: DailyMetrics['budgets'];
}

export function day(date: string, shape: DayShape = {}): DailyMetrics {
  return {
    schemaVersion: METRICS_SCHEMA_VERSION,
    date,
    revision: shape.revision ?? 1,
    generatedAt: `${date}T23:59:00.000Z`,
    currency: 'USD',
    fleet: {
      fleetCostUsd: 800,
      allocatedCostUsd: 560,
      idleCostUsd: 240,
      fleetGpuSeconds: 8 * 86_400,
      allocatedGpuSeconds: 8 * 86_400 * 0.7,
      idleGpuSeconds: 8 * 86_400 * 0.3,
      eventsRead: 100_000,
      usageEvents: 99_000,
      capacityEvents: 1000,
      duplicatesDropped: 0,
      rejected: 20,
      unmeteredRequests: 10,
      ...shape.fleet,
    },
    bins: BIN_EDGES,
    groups: shape.groups ?? [group()],
    models: shape.models ?? [capacity('llama-3-8b', 0.3)],
    pods: shape.pods ?? [
      capacity('llama-3-8b', 0.3, 'pod-a', 400),
      capacity('llama-3-8b', 0.3, 'pod-b', 400),
    ],
    ...(shape.calibration === undefined ? {} : { calibration: shape.calibration }),
    ...(shape.budgets === undefined ? {} : { budgets: shape.budgets }),
  };
}

/** `count` steady days before TODAY, each from `shape` (a function of how many days back). */
export function history(count: number, shape: (back: number) => DayShape = () => ({})): DailyMetrics[] {
  return Array.from({ length: count }, (_, i) => day(addDays(TODAY, -(i + 1)), shape(i + 1)));
}

export type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };

/** A deep, writable copy of the default rules, for tests that change one field. */
export function mutableRules(): Mutable<DriftRules> {
  const copy: Mutable<DriftRules> = structuredClone(DEFAULT_DRIFT_RULES);
  return copy;
}
