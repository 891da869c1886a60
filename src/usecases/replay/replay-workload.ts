/**
 * A workload replayed through an endpoint (the sidecar in front of one model version), politely: at
 * most `concurrency` requests in flight, at most `requestsPerSecond` started a second when given,
 * each cut off after `timeoutMs`. A request that reached the server is never sent again, whatever
 * it got back: the sidecar has metered it, and a second copy would be counted twice in the run the
 * cost gate reads. Only a refused connection, before any byte left, is tried again.
 */
import type { ReplayRequest } from '../../domain/replay/workload.js';
import type { ReplayEndpoint } from '../../ports/replay-endpoint.js';
import { eachInParallel, pacer } from '../paced.js';

export interface ReplayLimits {
  readonly concurrency: number;
  /** Requests started per second; absent: as fast as `concurrency` allows. */
  readonly requestsPerSecond?: number;
  readonly timeoutMs: number;
  /** Further tries of a request whose connection was refused. */
  readonly refusedRetries: number;
  /** The wait before the first of them; doubles after each. */
  readonly refusedDelayMs: number;
}

export const DEFAULT_REPLAY_LIMITS: ReplayLimits = {
  concurrency: 4,
  timeoutMs: 120_000,
  refusedRetries: 3,
  refusedDelayMs: 500,
};

export interface ReplayDeps {
  readonly endpoint: ReplayEndpoint;
  /** Milliseconds, for pacing. */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface FailureCount {
  readonly kind: string;
  readonly count: number;
  /** The first such failure's request and detail. */
  readonly first: string;
}

export interface ReplaySummary {
  readonly sent: number;
  readonly answered: number;
  readonly failed: number;
  /** Failures by kind, the most frequent first. */
  readonly failures: readonly FailureCount[];
  /** Answers whose usage reports another completion length than asked (the engine ignored min_tokens). */
  readonly otherLength: number;
}

export async function replayWorkload(
  requests: readonly ReplayRequest[],
  limits: ReplayLimits,
  deps: ReplayDeps,
): Promise<ReplaySummary> {
  const pace =
    limits.requestsPerSecond === undefined ? () => Promise.resolve() : pacer(limits.requestsPerSecond, deps);
  const failures = new Map<string, { count: number; first: string }>();
  let answered = 0;
  let otherLength = 0;
  await eachInParallel(requests, limits.concurrency, async (request) => {
    const answer = await sendOne(request, limits, deps, pace);
    if (answer.ok) {
      answered += 1;
      if (answer.completionTokens !== undefined && answer.completionTokens !== request.completionTokens)
        otherLength += 1;
      return;
    }
    const seen = failures.get(answer.kind);
    if (seen === undefined)
      failures.set(answer.kind, { count: 1, first: `${request.requestId}: ${answer.detail}` });
    else seen.count += 1;
  });
  const listed = [...failures]
    .map(([kind, f]) => ({ kind, count: f.count, first: f.first }))
    .sort((a, b) => b.count - a.count || (a.kind < b.kind ? -1 : 1));
  return {
    sent: requests.length,
    answered,
    failed: requests.length - answered,
    failures: listed,
    otherLength,
  };
}

async function sendOne(
  request: ReplayRequest,
  limits: ReplayLimits,
  deps: ReplayDeps,
  pace: () => Promise<void>,
) {
  for (let attempt = 0; ; attempt += 1) {
    await pace();
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
    }, limits.timeoutMs);
    let answer;
    try {
      answer = await deps.endpoint.send(request, controller.signal);
    } finally {
      clearTimeout(timer);
    }
    if (!answer.ok && controller.signal.aborted)
      return { ...answer, kind: 'timed out', detail: `no answer within ${limits.timeoutMs} ms` };
    if (answer.ok || !answer.refused || attempt >= limits.refusedRetries) return answer;
    await deps.sleep(limits.refusedDelayMs * 2 ** attempt);
  }
}
