import type { IntakeCounts } from '../accumulator.js';
import type { ChargebackResult, ChargebackRow, PodTotals } from '../chargeback.js';
import { formatGpuSeconds, moneyNumber } from '../report/format.js';
import { largestRemainder } from '../report/rounding.js';
import type { CalibrationRecord } from '../calibration/calibrate.js';
import { BIN_EDGES } from './histogram.js';
import {
  METRICS_SCHEMA_VERSION,
  type BudgetScopeMetrics,
  type CapacityMetrics,
  type DailyMetrics,
  type FleetMetrics,
  type GroupMetrics,
} from './metrics.js';

export { parseMetrics } from './parse.js';

/** What the metrics file says about itself: the same as the day's summary. */
export interface MetricsContext {
  readonly date: string;
  readonly revision: number;
  readonly generatedAt: string;
  readonly currency: string;
  readonly counts: IntakeCounts;
  /** The day's calibrated step costs, when the allocation used them. */
  readonly calibration?: readonly CalibrationRecord[];
  /** With spend budgets: each scope's estimate against its exact figure (contracts.md §8). */
  readonly budgets?: readonly BudgetScopeMetrics[];
}

/**
 * The daily metrics (contracts.md §8) of a chargeback as printed (see roundForPrint): the groups carry the
 * CSV's figures, the fleet the summary's. Models and pods are shown before the idle policy (idle is
 * the held time no request was active, also under `--idle share`), their money rounded from the
 * fleet down: fleet into allocated and idle, each into models, each model's into its pods, by
 * largest remainder. So the models add up to the printed fleet, the pods to their model, and with
 * idle rows (`separate`) each model's idle cost is its idle row's in the CSV.
 */
export function buildMetrics(context: MetricsContext, printed: ChargebackResult): DailyMetrics {
  const { models, pods } = capacityMetrics(printed);
  return {
    schemaVersion: METRICS_SCHEMA_VERSION,
    date: context.date,
    revision: context.revision,
    generatedAt: context.generatedAt,
    currency: context.currency,
    fleet: fleetMetrics(context.counts, printed),
    bins: BIN_EDGES,
    groups: printed.rows
      .filter((row) => !row.idle)
      .sort(compareKeys)
      .map(groupMetrics),
    models,
    pods,
    ...(context.calibration === undefined ? {} : { calibration: context.calibration }),
    ...(context.budgets === undefined ? {} : { budgets: context.budgets }),
  };
}

function fleetMetrics(counts: IntakeCounts, printed: ChargebackResult): FleetMetrics {
  return {
    fleetCostUsd: moneyNumber(printed.fleetNanos),
    allocatedCostUsd: moneyNumber(printed.allocatedNanos),
    idleCostUsd: moneyNumber(printed.idleNanos),
    fleetGpuSeconds: printed.fleetGpuMicros / 1e6,
    allocatedGpuSeconds: printed.allocatedGpuMicros / 1e6,
    idleGpuSeconds: printed.idleGpuMicros / 1e6,
    eventsRead: counts.eventsRead,
    usageEvents: counts.usageEvents,
    capacityEvents: counts.capacityEvents,
    duplicatesDropped: counts.duplicatesDropped,
    rejected: counts.rejected,
    unmeteredRequests: printed.unmeteredRequests,
  };
}

function groupMetrics(row: ChargebackRow): GroupMetrics {
  return {
    tenant: row.tenant,
    feature: row.feature,
    model: row.model,
    requestClass: row.requestClass,
    requests: row.requests,
    errorRequests: row.errorRequests,
    abortedRequests: row.stats.abortedRequests,
    requestsWithFirstToken: row.stats.requestsWithFirstToken,
    promptTokens: row.promptTokens,
    completionTokens: row.completionTokens,
    cachedPromptTokens: row.cachedPromptTokens,
    gpuSeconds: Number(formatGpuSeconds(row.gpuMicros)),
    costUsd: moneyNumber(row.nanos),
    histograms: row.stats.histograms,
  };
}

/** Money in micro-dollars and GPU-time in GPU-microseconds, before they are printed. */
interface Split {
  readonly allocatedMicros: number;
  readonly idleMicros: number;
  readonly allocatedGpuMicros: number;
  readonly idleGpuMicros: number;
}

function capacityMetrics(printed: ChargebackResult): { models: CapacityMetrics[]; pods: CapacityMetrics[] } {
  const byModel = new Map<string, PodTotals[]>();
  for (const pod of printed.podTotals) byModel.set(pod.model, [...(byModel.get(pod.model) ?? []), pod]);
  const modelNames = [...byModel.keys()].sort(compareText);
  const modelPods = modelNames.map((name) => byModel.get(name) ?? []);
  const all = printed.podTotals;
  const [allocatedMicros = 0, idleMicros = 0] = largestRemainder(Math.round(printed.fleetNanos / 1000), [
    sum(all, allocatedNanos),
    sum(all, (p) => p.idleNanos),
  ]);
  const modelSplits = split({ allocatedMicros, idleMicros }, modelPods);
  const models: CapacityMetrics[] = [];
  const pods: CapacityMetrics[] = [];
  modelNames.forEach((model, m) => {
    const members = modelPods[m] ?? [];
    const modelSplit = modelSplits[m];
    if (modelSplit === undefined) return;
    models.push({ model, ...figures(modelSplit) });
    split(
      modelSplit,
      members.map((pod) => [pod]),
    ).forEach((podSplit, p) => {
      const pod = members[p];
      if (pod === undefined) return;
      const { pod: name, gpuSku, gpuCount, served } = pod;
      pods.push({ model, pod: name, gpuSku, gpuCount, ...figures(podSplit), served });
    });
  });
  return { models, pods };
}

/** Divides a whole's printed money among parts (each a set of pods) by largest remainder. */
function split(whole: Pick<Split, 'allocatedMicros' | 'idleMicros'>, parts: readonly PodTotals[][]): Split[] {
  const allocated = largestRemainder(
    whole.allocatedMicros,
    parts.map((pods) => sum(pods, allocatedNanos)),
  );
  const idle = largestRemainder(
    whole.idleMicros,
    parts.map((pods) => sum(pods, (p) => p.idleNanos)),
  );
  return parts.map((pods, i) => ({
    allocatedMicros: allocated[i] ?? 0,
    idleMicros: idle[i] ?? 0,
    // GPU-time is an integer count of GPU-microseconds: its sums are exact, nothing to divide.
    allocatedGpuMicros: sum(pods, (p) => p.fleetGpuMicros - p.idleGpuMicros),
    idleGpuMicros: sum(pods, (p) => p.idleGpuMicros),
  }));
}

function figures(s: Split): Omit<CapacityMetrics, 'model' | 'pod' | 'gpuSku' | 'gpuCount'> {
  return {
    fleetGpuSeconds: (s.allocatedGpuMicros + s.idleGpuMicros) / 1e6,
    allocatedGpuSeconds: s.allocatedGpuMicros / 1e6,
    idleGpuSeconds: s.idleGpuMicros / 1e6,
    fleetCostUsd: (s.allocatedMicros + s.idleMicros) / 1e6,
    allocatedCostUsd: s.allocatedMicros / 1e6,
    idleCostUsd: s.idleMicros / 1e6,
  };
}

function allocatedNanos(pod: PodTotals): number {
  return pod.fleetNanos - pod.idleNanos;
}

function compareKeys(a: ChargebackRow, b: ChargebackRow): number {
  return (
    compareText(a.tenant, b.tenant) ||
    compareText(a.feature, b.feature) ||
    compareText(a.model, b.model) ||
    compareText(a.requestClass, b.requestClass)
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}

/**
 * The file's text: two-space JSON like the summary, with every array of numbers (a histogram, a
 * row of bin edges) on one line, which keeps a day of a few hundred groups in tens of kilobytes.
 */
export function renderMetrics(m: DailyMetrics): string {
  return `${renderJson(m, '')}\n`;
}

function renderJson(value: unknown, indent: string): string {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'number'))
      return `[${value.map((v) => JSON.stringify(v)).join(',')}]`;
    const inner = `${indent}  `;
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + renderJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const inner = `${indent}  `;
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const body = entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${renderJson(v, inner)}`);
    return `{\n${body.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}
