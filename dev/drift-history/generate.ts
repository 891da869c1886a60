import type { AlertScope } from '../../src/domain/drift/alert.js';
import { BIN_EDGES } from '../../src/domain/metrics/histogram.js';
import {
  METRICS_SCHEMA_VERSION,
  type CapacityMetrics,
  type DailyMetrics,
  type GroupMetrics,
} from '../../src/domain/metrics/metrics.js';
import { Random } from '../../src/simulator/random.js';
import {
  FLEET_GROUPS,
  MODEL_SPECS,
  TARGET_PEAK_UTILISATION,
  launchedGroup,
  type GroupSpec,
} from './fleet.js';
import { capacityOf, fleetOf } from './capacity.js';
import { NO_EFFECTS, groupDay, trendRequests, type GroupEffects } from './group-day.js';
import { PERMANENT, groupInScope, isActive, type Incident, type IncidentSpec } from './incidents.js';

/**
 * A seeded history of daily metrics files (contracts.md §8) for a realistic fleet, with incidents injected
 * on chosen days: the input for trying drift rules and for scoring them against the ground truth.
 * Same seed, same options: the same bytes. Each (day, group) has its own random stream, so adding
 * an incident changes only what the incident touches.
 */
export interface HistoryOptions {
  readonly seed: number;
  readonly days: number;
  /** The first day, YYYY-MM-DD. */
  readonly start: string;
  readonly incidents?: readonly IncidentSpec[];
}

export interface MetricsHistory {
  /** One file per day, oldest first. */
  readonly days: readonly DailyMetrics[];
  readonly incidents: readonly Incident[];
  /** The pods each model runs on an ordinary day (an `idle` incident adds more). */
  readonly pods: Readonly<Record<string, readonly string[]>>;
}

const DAY_MS = 86_400_000;

export function dateOf(start: string, day: number): string {
  return new Date(Date.parse(`${start}T00:00:00Z`) + day * DAY_MS).toISOString().slice(0, 10);
}

const isWeekend = (date: string): boolean => [0, 6].includes(new Date(`${date}T00:00:00Z`).getUTCDay());

/** Kubernetes-like pod names, stable for a model so incidents can name them. */
export const podName = (model: string, index: number): string => `vllm-${model.replace(/\./g, '-')}-${index}`;

export function generateHistory(options: HistoryOptions): MetricsHistory {
  const incidents = (options.incidents ?? []).map((spec) => resolveIncident(spec, options));
  const pods = Object.fromEntries(
    MODEL_SPECS.map((m) => {
      const count = podsFor(m.name, m.gpusPerPod, options.days);
      return [m.name, Array.from({ length: count }, (_, i) => podName(m.name, i))];
    }),
  );
  const days = Array.from({ length: options.days }, (_, day) => metricsOfDay(options, incidents, pods, day));
  return { days, incidents, pods };
}

function resolveIncident(spec: IncidentSpec, options: HistoryOptions): Incident {
  const duration = PERMANENT.has(spec.kind) ? options.days - spec.day : spec.duration;
  if (spec.day < 0 || spec.day >= options.days || !(duration >= 1)) {
    throw new RangeError(`incident ${spec.kind} on day ${spec.day} lies outside the ${options.days} days`);
  }
  return {
    ...spec,
    duration,
    expectAlert: spec.expectAlert ?? true,
    date: dateOf(options.start, spec.day),
    lastDate: dateOf(options.start, spec.day + duration - 1),
  };
}

/** Enough pods that the last weekday's trend, with the largest burst, stays below the target. */
function podsFor(model: string, gpusPerPod: number, days: number): number {
  const spec = MODEL_SPECS.find((m) => m.name === model);
  if (spec === undefined) return 1;
  const busiest = FLEET_GROUPS.filter((g) => g.model === model).reduce((sum, g) => {
    const requests = trendRequests(g, days - 1, false);
    const perRequest =
      g.prompt.median * (1 - g.cachedShare) * spec.prefillGpuSeconds +
      g.completion.median * spec.decodeGpuSeconds;
    return sum + requests * perRequest * 1.3; // log-normal means sit above the medians
  }, 0);
  return Math.max(2, Math.ceil(busiest / (gpusPerPod * 86_400 * TARGET_PEAK_UTILISATION)));
}

function metricsOfDay(
  options: HistoryOptions,
  incidents: readonly Incident[],
  pods: Readonly<Record<string, readonly string[]>>,
  day: number,
): DailyMetrics {
  const date = dateOf(options.start, day);
  const active = incidents.filter((i) => isActive(i, day));
  const groups = groupsOfDay(active).map(({ spec, key }) => {
    const model = MODEL_SPECS.find((m) => m.name === spec.model);
    if (model === undefined) throw new RangeError(`no model ${spec.model} in the fleet`);
    const random = new Random(options.seed, day, key);
    const effects = effectsOn(spec, active, pods[spec.model]?.length ?? 1);
    return groupDay(spec, model, trendRequests(spec, day, isWeekend(date)), random, effects);
  });
  groups.sort(byKey);
  const scaleOut = (model: string): number =>
    active.filter((i) => i.kind === 'idle' && i.scope.model === model).reduce((f, i) => f * i.size, 1);
  const capacity = MODEL_SPECS.map((m) =>
    capacityOf(m, groups, (pods[m.name] ?? []).length, scaleOut(m.name), podName),
  );
  const models: CapacityMetrics[] = capacity.map((c) => c.model);
  const podRows: CapacityMetrics[] = capacity.flatMap((c) => c.pods);
  const rejectedFactor = active.filter((i) => i.kind === 'data-quality').reduce((f, i) => f * i.size, 1);
  return {
    schemaVersion: METRICS_SCHEMA_VERSION,
    date,
    revision: 1,
    generatedAt: `${dateOf(options.start, day + 1)}T01:00:00.000Z`,
    currency: 'USD',
    fleet: fleetOf(models, groups, podRows.length, new Random(options.seed, day, 0x0f1ee7), rejectedFactor),
    bins: BIN_EDGES,
    groups,
    models,
    pods: podRows,
  };
}

/** The fleet's groups that day: launched ones added, gone ones removed; each with its stream key. */
function groupsOfDay(active: readonly Incident[]): { spec: GroupSpec; key: number }[] {
  const gone = active.filter((i) => i.kind === 'feature-gone');
  const kept = FLEET_GROUPS.filter((g) => !gone.some((i) => groupInScope(g, i.scope)));
  const launched = active
    .filter((i) => i.kind === 'new-feature')
    .map((i) => launchedGroup(requireGroupScope(i.scope), i.size));
  return [...kept, ...launched].map((spec) => ({
    spec,
    key: hash(`${spec.tenant}\u0000${spec.feature}\u0000${spec.model}`),
  }));
}

function requireGroupScope(scope: AlertScope): {
  tenant: string;
  feature: string;
  model: string;
  requestClass?: string;
} {
  const { tenant, feature, model, requestClass } = scope;
  if (tenant === undefined || feature === undefined || model === undefined) {
    throw new RangeError('a new-feature incident names its tenant, feature and model');
  }
  return requestClass === undefined ? { tenant, feature, model } : { tenant, feature, model, requestClass };
}

function effectsOn(group: GroupSpec, active: readonly Incident[], podCount: number): GroupEffects {
  const effects = { ...NO_EFFECTS };
  for (const incident of active) {
    if (!groupInScope(group, incident.scope)) continue;
    if (incident.kind === 'completion-growth') effects.completionFactor *= incident.size;
    if (incident.kind === 'prompt-shift') effects.promptFactor *= incident.size;
    if (incident.kind === 'cost-per-token') effects.costFactor *= incident.size;
    if (incident.kind === 'error-rate') effects.errorFactor *= incident.size;
    if (incident.kind === 'latency') {
      // Traffic spreads evenly over a model's pods, so one slow pod slows 1/pods of the requests.
      effects.slowShare = incident.scope.pod === undefined ? 1 : 1 / podCount;
      effects.slowFactor = incident.size;
    }
  }
  return effects;
}

const byKey = (a: GroupMetrics, b: GroupMetrics): number => {
  for (const k of ['tenant', 'feature', 'model', 'requestClass'] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return 0;
};

/** FNV-1a: a stable stream key per group name. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
