/**
 * The daily metrics file (contracts.md §8): `metrics-YYYY-MM-DD.json` beside the CSV, the only input drift
 * detection, the monthly report and the cost gate read. Small (kilobytes): counts, money and
 * histograms over fixed bins, never a copy of the events.
 *
 * Histograms: `bins[name]` holds the lower edges of the bins, the same every day for one
 * `schemaVersion` (a change of edges is a new schemaVersion); bin i counts values v with
 * edges[i] <= v < edges[i+1], the last bin everything from its edge up. A group's histogram is an
 * array of counts, one per bin (trailing zero bins may be omitted), so days add up bin by bin.
 */

import type { BudgetPeriod, BudgetScope } from '../budgets/budgets.js';
import type { CalibrationRecord } from '../calibration/calibrate.js';

/** Bumped whenever a field's meaning or a histogram's bin edges change. */
export const METRICS_SCHEMA_VERSION = 1;

export const HISTOGRAMS = ['promptTokens', 'completionTokens', 'latencyMs', 'ttftMs', 'queueMs'] as const;
export type HistogramName = (typeof HISTOGRAMS)[number];

/** Counts per bin; index i is the bin whose lower edge is `bins[name][i]`. */
export type Histogram = readonly number[];

/** The requests a pod served that day (counted on the day they finished, as the CSV counts them). */
export interface ServedMetrics {
  readonly requests: number;
  readonly errorRequests: number;
  readonly abortedRequests: number;
  readonly requestsWithFirstToken: number;
  readonly histograms: Readonly<Record<HistogramName, Histogram>>;
}

/** The money and GPU-time of a model or a pod that day. */
export interface CapacityMetrics {
  readonly model: string;
  /** Present on per-pod entries. */
  readonly pod?: string;
  readonly gpuSku?: string;
  /** Present on per-pod entries: a pod name on another VM size or GPU count is another replica. */
  readonly gpuCount?: number;
  readonly fleetGpuSeconds: number;
  readonly allocatedGpuSeconds: number;
  readonly idleGpuSeconds: number;
  readonly fleetCostUsd: number;
  readonly allocatedCostUsd: number;
  readonly idleCostUsd: number;
  /** Present on per-pod entries: what the pod served, so that a slow or failing replica shows. */
  readonly served?: ServedMetrics;
}

/** One (tenant, feature, model, requestClass) group: the CSV row's figures and the day's histograms. */
export interface GroupMetrics {
  readonly tenant: string;
  readonly feature: string;
  readonly model: string;
  readonly requestClass: string;
  readonly requests: number;
  readonly errorRequests: number;
  readonly abortedRequests: number;
  readonly requestsWithFirstToken: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedPromptTokens: number;
  readonly gpuSeconds: number;
  /** As printed in the CSV (so the groups add up to the printed fleet). */
  readonly costUsd: number;
  readonly histograms: Readonly<Record<HistogramName, Histogram>>;
}

export interface FleetMetrics {
  readonly fleetCostUsd: number;
  readonly allocatedCostUsd: number;
  readonly idleCostUsd: number;
  readonly fleetGpuSeconds: number;
  readonly allocatedGpuSeconds: number;
  readonly idleGpuSeconds: number;
  readonly eventsRead: number;
  readonly usageEvents: number;
  readonly capacityEvents: number;
  readonly duplicatesDropped: number;
  readonly rejected: number;
  readonly unmeteredRequests: number;
}

export interface DailyMetrics {
  readonly schemaVersion: typeof METRICS_SCHEMA_VERSION;
  readonly date: string;
  readonly revision: number;
  readonly generatedAt: string;
  readonly currency: string;
  readonly fleet: FleetMetrics;
  /** Lower bin edges per histogram (see the header). */
  readonly bins: Readonly<Record<HistogramName, readonly number[]>>;
  /** Sorted by the key columns; the idle rows are not groups (they are in `models` and `pods`). */
  readonly groups: readonly GroupMetrics[];
  readonly models: readonly CapacityMetrics[];
  readonly pods: readonly CapacityMetrics[];
  /**
   * Present when the day was allocated with calibrated step costs (`--weighting calibrated`): each
   * deployment's fitted constants, their standard errors and the requests behind them, or the
   * reason the configured ones were kept. Stored here, a restated day reuses them, and drift
   * watches them (rule `stepCostShift`). Optional and additive: the schemaVersion is unchanged.
   */
  readonly calibration?: readonly CalibrationRecord[];
  /**
   * Present when spend budgets are configured: each budget scope's estimate for the day (what
   * ingest added up and the budgets enforced on) against the day's exact figure, which replaced it.
   * Drift watches it (rule `budgetEstimateError`). Optional and additive: the schemaVersion is unchanged.
   */
  readonly budgets?: readonly BudgetScopeMetrics[];
}

/** Why a scope's relative error is no figure: the report has no cost for it that day. */
export const NO_EXACT_SPEND = 'no exact spend';

/** One budget scope's closed day: its estimate against the exact figure of this report. */
export interface BudgetScopeMetrics {
  readonly scope: BudgetScope;
  /** The periods of the scope's budgets (a scope is listed once, whatever its budgets). */
  readonly periods: readonly BudgetPeriod[];
  readonly estimateUsd: number;
  readonly exactUsd: number;
  readonly estimateGpuHours: number;
  readonly exactGpuHours: number;
  /**
   * (estimate - exact) / exact in dollars, positive when the estimate was high; null when the
   * exact figure is 0 (a ratio over nothing), with `reason` saying so.
   */
  readonly relativeError: number | null;
  /** Present exactly when `relativeError` is null: `NO_EXACT_SPEND`. */
  readonly reason?: typeof NO_EXACT_SPEND;
}
