/**
 * A baseline for the local demo, made from a reported day's own metrics: the days before it are
 * that day's groups, models and pods scaled by a little day-to-day noise, with one feature that
 * cost less per token before. The demo day then differs from its history in that feature alone,
 * so the drift rules have one real change to find among ordinary noise. Cheap: no events, no
 * simulation, a few milliseconds for 28 days.
 */
import { addDays } from '../../src/domain/days.js';
import type {
  CapacityMetrics,
  DailyMetrics,
  GroupMetrics,
  Histogram,
  ServedMetrics,
} from '../../src/domain/metrics/metrics.js';
import { Random } from '../../src/simulator/random.js';

export interface PastOptions {
  readonly days: number;
  readonly seed: number;
  /** The feature whose cost was `costFactor` times today's, for the same traffic, on every past day. */
  readonly feature: string;
  readonly costFactor: number;
  /** Standard deviation of the per-group daily factor. Default 0.04. */
  readonly noise?: number;
}

/** `days` days before `today`, newest first. */
export function pastDays(today: DailyMetrics, options: PastOptions): DailyMetrics[] {
  return Array.from({ length: options.days }, (_, i) => pastDay(today, i + 1, options));
}

function pastDay(today: DailyMetrics, back: number, options: PastOptions): DailyMetrics {
  const random = new Random(options.seed, back);
  const noise = options.noise ?? 0.04;
  const dayFactor = 1 + noise * clamp(random.normal());
  const factor = (): number => dayFactor * (1 + noise * clamp(random.normal()));
  const groups = today.groups.map((g) =>
    scaleGroup(g, factor(), g.feature === options.feature ? options.costFactor : 1),
  );
  const scaleCapacity = (c: CapacityMetrics): CapacityMetrics => {
    const served = c.served === undefined ? {} : { served: scaleServed(c.served, dayFactor) };
    return { ...c, ...served };
  };
  return {
    ...today,
    date: addDays(today.date, -back),
    generatedAt: `${addDays(today.date, -back + 1)}T00:31:00.000Z`,
    revision: 1,
    groups,
    models: today.models.map(scaleCapacity),
    pods: today.pods.map(scaleCapacity),
  };
}

function scaleGroup(g: GroupMetrics, f: number, costFactor: number): GroupMetrics {
  const served = scaleServed(g, f);
  return {
    ...g,
    ...served,
    promptTokens: Math.round(g.promptTokens * f),
    completionTokens: Math.round(g.completionTokens * f),
    cachedPromptTokens: Math.round(g.cachedPromptTokens * f),
    gpuSeconds: round(g.gpuSeconds * f, 3),
    costUsd: round(g.costUsd * f * costFactor, 6),
  };
}

/** Counts scaled by `f`; every histogram still holds exactly its requests (the metrics parser checks). */
function scaleServed(s: ServedMetrics, f: number): ServedMetrics {
  const requests = Math.round(s.requests * f);
  const withFirstToken = Math.min(requests, Math.round(s.requestsWithFirstToken * f));
  const h = s.histograms;
  return {
    requests,
    errorRequests: Math.min(requests, Math.round(s.errorRequests * f)),
    abortedRequests: Math.min(requests, Math.round(s.abortedRequests * f)),
    requestsWithFirstToken: withFirstToken,
    histograms: {
      promptTokens: scaleHistogram(h.promptTokens, requests),
      completionTokens: scaleHistogram(h.completionTokens, requests),
      latencyMs: scaleHistogram(h.latencyMs, requests),
      ttftMs: scaleHistogram(h.ttftMs, withFirstToken),
      queueMs: scaleHistogram(h.queueMs, requests),
    },
  };
}

/** The same shape holding `total`: each bin scaled and rounded, the rounding left on the largest bin. */
function scaleHistogram(histogram: Histogram, total: number): Histogram {
  const sum = histogram.reduce((a, b) => a + b, 0);
  if (sum === 0) return total === 0 ? histogram : [total];
  const bins = histogram.map((count) => Math.round((count * total) / sum));
  const largest = bins.indexOf(Math.max(...bins));
  bins[largest] = (bins[largest] ?? 0) + total - bins.reduce((a, b) => a + b, 0);
  return bins;
}

const clamp = (x: number): number => Math.max(-2.5, Math.min(2.5, x));
const round = (value: number, decimals: number): number => Number(value.toFixed(decimals));
