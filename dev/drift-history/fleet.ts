import { FEATURES, MODELS, TENANTS, type FeatureProfile } from '../../src/simulator/workload.js';

/**
 * The fleet the metrics history describes: the simulator's tenants, features and models, with
 * daily volumes, a weekly cycle, slow growth, and the GPU cost of a token on each model.
 */

export interface ModelSpec {
  readonly name: string;
  readonly gpuSku: string;
  /** GPUs per pod (one VM per pod). */
  readonly gpusPerPod: number;
  /** GPU-seconds per uncached prompt token and per completion token, at the batch sizes vLLM runs. */
  readonly prefillGpuSeconds: number;
  readonly decodeGpuSeconds: number;
  /** Milliseconds per output token seen by one request (time per output token). */
  readonly tpotMs: number;
}

export interface GroupSpec {
  readonly tenant: string;
  readonly feature: string;
  readonly model: string;
  readonly requestClass: 'interactive' | 'batch';
  /** Requests on a weekday at day 0, before noise. */
  readonly weekdayRequests: number;
  /** Saturday and Sunday volume relative to a weekday. */
  readonly weekendFactor: number;
  /** Compound growth of the volume per day. */
  readonly dailyGrowth: number;
  readonly prompt: { readonly median: number; readonly sigma: number };
  readonly completion: { readonly median: number; readonly sigma: number };
  readonly cachedShare: number;
  readonly errorRate: number;
  readonly abortRate: number;
  /** Median wait before the engine schedules the request. */
  readonly queueMs: number;
}

const [LLAMA, QWEN] = MODELS;
export const MODEL_SPECS: readonly ModelSpec[] = [
  // Roughly 1,600 decode tokens a second from one A100 at a busy batch, prefill ten times cheaper.
  {
    name: LLAMA?.name ?? 'llama-3.1-8b-instruct',
    gpuSku: LLAMA?.gpuSku ?? 'Standard_NC24ads_A100_v4',
    gpusPerPod: 1,
    prefillGpuSeconds: 0.00006,
    decodeGpuSeconds: 0.0006,
    tpotMs: 18,
  },
  {
    name: QWEN?.name ?? 'qwen2.5-14b-instruct',
    gpuSku: QWEN?.gpuSku ?? 'Standard_NC48ads_A100_v4',
    gpusPerPod: 2,
    prefillGpuSeconds: 0.00013,
    decodeGpuSeconds: 0.0013,
    tpotMs: 27,
  },
];

/** Weekday requests per feature at day 0, and the model that serves it. */
const SERVED: readonly (readonly [FeatureProfile, number, number])[] = [
  [FEATURES.chat, 540_000, 0],
  [FEATURES.codeAssist, 240_000, 0],
  [FEATURES.searchAnswer, 220_000, 0],
  [FEATURES.classifyTickets, 900_000, 0],
  [FEATURES.summarizeDocs, 150_000, 1],
  [FEATURES.reportDigest, 36_000, 1],
  [FEATURES.translate, 72_000, 1],
];

function groupsOf([feature, requests, model]: readonly [FeatureProfile, number, number]): GroupSpec[] {
  const total = feature.tenants.reduce((sum, [, w]) => sum + w, 0);
  const modelName = MODEL_SPECS[model]?.name ?? '';
  return feature.tenants.map(([tenant, weight], i) =>
    groupSpec(feature, tenant, modelName, Math.round((requests * weight) / total), i),
  );
}

function groupSpec(
  feature: FeatureProfile,
  tenant: string,
  model: string,
  weekdayRequests: number,
  index: number,
): GroupSpec {
  const interactive = feature.requestClass === 'interactive';
  return {
    tenant,
    feature: feature.name,
    model,
    requestClass: feature.requestClass,
    weekdayRequests,
    weekendFactor: interactive ? 0.45 : 0.8,
    // Between flat and +0.4% a day (about +40% over a quarter), different for every group.
    dailyGrowth: ((index * 7 + feature.name.length) % 5) * 0.001,
    prompt: feature.prompt,
    completion: feature.completion,
    // The expected cached prefix over a rough mean prompt (twice the median): only ratios matter here.
    cachedShare:
      (feature.cachedPrefix.tokens * feature.cachedPrefix.probability) / (feature.prompt.median * 2),
    errorRate: interactive ? 0.004 : 0.002,
    abortRate: interactive ? 0.012 : 0.001,
    queueMs: interactive ? 12 : 350,
  };
}

/** A pilot far below any sensible minimum volume: a change in it must not page anyone. */
export const PILOT_GROUP: GroupSpec = groupSpec(
  { ...FEATURES.chat, name: 'pilot-eval' },
  TENANTS.adatum,
  MODEL_SPECS[0]?.name ?? '',
  40,
  0,
);

/**
 * A small feature with a real sample: 3,000 weekday requests of retrieval answers (long prompts of
 * fetched context), about $4.50 a day, under the money rules' $20 but far above the statistical
 * rules' 1,000 requests. Its prompts tripling (a retrieval bug stuffing the context) is news.
 */
export const SMALL_FEATURE_GROUP: GroupSpec = groupSpec(
  {
    ...FEATURES.translate,
    name: 'kb-answers',
    tenants: [[TENANTS.contoso, 1]],
    prompt: { median: 1500, sigma: 0.6 },
    completion: { median: 820, sigma: 0.5 },
  },
  TENANTS.contoso,
  MODEL_SPECS[1]?.name ?? '',
  3000,
  0,
);

export const FLEET_GROUPS: readonly GroupSpec[] = [
  ...SERVED.flatMap(groupsOf),
  PILOT_GROUP,
  SMALL_FEATURE_GROUP,
];

/** The profile a feature launched mid-history gets: a chat-like assistant. */
export function launchedGroup(
  scope: { tenant: string; feature: string; model: string; requestClass?: string },
  weekdayRequests: number,
): GroupSpec {
  const requestClass = scope.requestClass === 'batch' ? 'batch' : 'interactive';
  return groupSpec(
    { ...FEATURES.chat, name: scope.feature, requestClass },
    scope.tenant,
    scope.model,
    weekdayRequests,
    1,
  );
}

/** Pods per model, sized so the weekday peak of the whole history stays below 75% allocated. */
export const TARGET_PEAK_UTILISATION = 0.75;
