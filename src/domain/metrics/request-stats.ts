import type { UsageRecord } from '../records.js';
import { addHistograms, BIN_EDGES, HistogramBuilder } from './histogram.js';
import { HISTOGRAMS, type Histogram, type HistogramName, type ServedMetrics } from './metrics.js';

/**
 * What the daily metrics keep of a set of requests (a group's, a pod's) beyond the CSV's columns
 * (contracts.md §8): counts and the five histograms. Plain integer counts, so the stats of disjoint sets of
 * requests add up exactly (partition by partition, day by day).
 */
export type RequestStats = ServedMetrics;

/** Collects one group's stats, one request at a time. */
export class RequestStatsBuilder {
  private requests = 0;
  private errors = 0;
  private aborted = 0;
  private withFirstToken = 0;
  private readonly builders = {
    promptTokens: new HistogramBuilder(BIN_EDGES.promptTokens),
    completionTokens: new HistogramBuilder(BIN_EDGES.completionTokens),
    latencyMs: new HistogramBuilder(BIN_EDGES.latencyMs),
    ttftMs: new HistogramBuilder(BIN_EDGES.ttftMs),
    queueMs: new HistogramBuilder(BIN_EDGES.queueMs),
  } satisfies Record<HistogramName, HistogramBuilder>;

  add(request: UsageRecord): void {
    this.requests += 1;
    if (request.status === 'error') this.errors += 1;
    if (request.status === 'aborted') this.aborted += 1;
    this.builders.promptTokens.add(request.promptTokens);
    this.builders.completionTokens.add(request.completionTokens);
    // Instants are microseconds; the histograms count milliseconds, as the CSV's latencies do.
    this.builders.latencyMs.add((request.finishedAt - request.startedAt) / 1000);
    if (request.firstTokenAt !== null) {
      this.withFirstToken += 1;
      this.builders.ttftMs.add((request.firstTokenAt - request.startedAt) / 1000);
    }
    // An event without queueMs reads as 0 (records.ts): the two are one event to exactly-once
    // (contracts.md §4.6), so they cannot be told apart here either, and both count in the first bin.
    this.builders.queueMs.add(request.queueMs);
  }

  stats(): RequestStats {
    return {
      requests: this.requests,
      errorRequests: this.errors,
      abortedRequests: this.aborted,
      requestsWithFirstToken: this.withFirstToken,
      histograms: {
        promptTokens: this.builders.promptTokens.histogram(),
        completionTokens: this.builders.completionTokens.histogram(),
        latencyMs: this.builders.latencyMs.histogram(),
        ttftMs: this.builders.ttftMs.histogram(),
        queueMs: this.builders.queueMs.histogram(),
      },
    };
  }
}

/** Stats with no request: what an idle row carries. */
export const NO_REQUEST_STATS: RequestStats = new RequestStatsBuilder().stats();

/** The stats of the union of disjoint sets of requests: counts added, histograms bin by bin. */
export function addRequestStats(parts: readonly RequestStats[]): RequestStats {
  const histograms = {} as Record<HistogramName, Histogram>;
  for (const name of HISTOGRAMS) histograms[name] = addHistograms(parts.map((p) => p.histograms[name]));
  const total = (count: (p: RequestStats) => number): number => parts.reduce((n, p) => n + count(p), 0);
  return {
    requests: total((p) => p.requests),
    errorRequests: total((p) => p.errorRequests),
    abortedRequests: total((p) => p.abortedRequests),
    requestsWithFirstToken: total((p) => p.requestsWithFirstToken),
    histograms,
  };
}
