import type { GroupMetrics } from '../../src/domain/metrics/metrics.js';
import type { Random } from '../../src/simulator/random.js';
import type { GroupSpec, ModelSpec } from './fleet.js';
import { lognormal, mixtureHistogram, mixtureMean, scalePart } from './mixture.js';

/**
 * The ordinary noise of a day, as bounds a test can hold the generator to. Every normal draw is
 * clamped to +-CLAMP standard deviations, so a quiet day's figures stay inside known limits.
 */
export const NOISE = {
  clamp: 3,
  /** Day-to-day volume: sigma 3% (within about -9% .. +9.4% of the trend). */
  volumeSigma: 0.03,
  /** Prompt and completion medians: sigma 1.5% (within about +-4.6%). */
  shapeSigma: 0.015,
  /** Error rate: sigma 10% (it is a small count, noisier than volume). */
  errorSigma: 0.1,
  /** Rejected, duplicate and unmetered events: sigma 20%. */
  eventSigma: 0.2,
  /** Now and then a group's volume jumps for a day (a batch rerun, a marketing mail). */
  burst: { probability: 0.04, min: 1.15, max: 1.4 },
} as const;

/** US dollars per GPU-second: the A100 list price per GPU-hour (prices/azure-a100.json) over 3,600. */
export const USD_PER_GPU_SECOND = 3.673 / 3600;

/** What today's incidents do to one group (all 1 when none touches it). */
export interface GroupEffects {
  completionFactor: number;
  promptFactor: number;
  costFactor: number;
  errorFactor: number;
  /** Share of the group's requests that are slowed, and by how much. */
  slowShare: number;
  slowFactor: number;
}

export const NO_EFFECTS: GroupEffects = {
  completionFactor: 1,
  promptFactor: 1,
  costFactor: 1,
  errorFactor: 1,
  slowShare: 0,
  slowFactor: 1,
};

/** A normal draw clamped to the stated bounds. */
export const clampedNormal = (random: Random): number =>
  Math.max(-NOISE.clamp, Math.min(NOISE.clamp, random.normal()));

/** The volume trend of a group on a day, before noise and bursts. */
export function trendRequests(group: GroupSpec, day: number, weekend: boolean): number {
  return group.weekdayRequests * (weekend ? group.weekendFactor : 1) * (1 + group.dailyGrowth) ** day;
}

/** One group's figures for a day. The random stream is the group's own for that day. */
export function groupDay(
  group: GroupSpec,
  model: ModelSpec,
  trend: number,
  random: Random,
  effects: GroupEffects,
): GroupMetrics {
  // Draw every noise term first and always in the same order, so an incident never shifts them.
  const volumeNoise = Math.exp(NOISE.volumeSigma * clampedNormal(random));
  const promptNoise = Math.exp(NOISE.shapeSigma * clampedNormal(random));
  const completionNoise = Math.exp(NOISE.shapeSigma * clampedNormal(random));
  const errorNoise = Math.exp(NOISE.errorSigma * clampedNormal(random));
  const bursting = random.next() < NOISE.burst.probability;
  const burstSize = random.uniform(NOISE.burst.min, NOISE.burst.max);
  const requests = Math.max(1, Math.round(trend * volumeNoise * (bursting ? burstSize : 1)));

  const prompt = lognormal(group.prompt.median * promptNoise * effects.promptFactor, group.prompt.sigma);
  const completionMedian = group.completion.median * completionNoise * effects.completionFactor;
  const completion = lognormal(completionMedian, group.completion.sigma);
  const promptMean = mixtureMean(prompt);
  const completionMean = mixtureMean(completion);

  const errorRequests = Math.min(
    requests,
    Math.round(requests * group.errorRate * errorNoise * effects.errorFactor),
  );
  const withFirstToken = requests - errorRequests; // a failed request never produced a token
  // Prefill runs at about 20,000 uncached tokens a second for one request.
  const ttftMedian = group.queueMs + 25 + promptMean * (1 - group.cachedShare) * 0.05;
  const latencyMedian = ttftMedian + completionMedian * model.tpotMs;
  const slow = (median: number, sigma: number) =>
    scalePart(lognormal(median, sigma), effects.slowShare, effects.slowFactor);

  const promptTokens = Math.round(requests * promptMean);
  const completionTokens = Math.round(requests * completionMean);
  const cachedPromptTokens = Math.round(promptTokens * group.cachedShare);
  const gpuSeconds =
    ((promptTokens - cachedPromptTokens) * model.prefillGpuSeconds +
      completionTokens * model.decodeGpuSeconds) *
    effects.costFactor;
  return {
    tenant: group.tenant,
    feature: group.feature,
    model: group.model,
    requestClass: group.requestClass,
    requests,
    errorRequests,
    abortedRequests: Math.round(withFirstToken * group.abortRate),
    requestsWithFirstToken: withFirstToken,
    promptTokens,
    completionTokens,
    cachedPromptTokens,
    gpuSeconds: round(gpuSeconds, 3),
    costUsd: round(gpuSeconds * USD_PER_GPU_SECOND, 6),
    histograms: {
      promptTokens: mixtureHistogram('promptTokens', prompt, requests),
      completionTokens: mixtureHistogram('completionTokens', completion, requests),
      latencyMs: mixtureHistogram('latencyMs', slow(latencyMedian, 0.5), requests),
      ttftMs: mixtureHistogram('ttftMs', slow(ttftMedian, 0.6), withFirstToken),
      queueMs: mixtureHistogram('queueMs', lognormal(group.queueMs, 1), requests),
    },
  };
}

export const round = (value: number, decimals: number): number => Number(value.toFixed(decimals));
