/**
 * The regression harness's run (contracts.md §13): every case of a suite through the endpoint,
 * politely (at most `concurrency` in flight, at most `requestsPerSecond` attempts started a
 * second), each attempt cut off after `timeoutMs`, a failure worth retrying (429, 5xx, a timeout,
 * a dropped connection) tried again with exponential backoff that honours Retry-After, up to
 * `attempts` tries. A case still without an answer is recorded as not completed: the run is then
 * partial, and its metrics say so (results.ts).
 */
import type { SuiteCase } from '../../domain/evaluation/cases.js';
import { caseRequest } from '../../domain/evaluation/prompt.js';
import { caseResult, type CaseOutcome, type CaseResult } from '../../domain/evaluation/results.js';
import type { SuiteManifest } from '../../domain/evaluation/suite.js';
import type { CompletionEndpoint } from '../../ports/completion-endpoint.js';
import { eachInParallel, pacer } from '../paced.js';

export interface RunLimits {
  /** Cases in flight at once. */
  readonly concurrency: number;
  /** Attempts started per second, retries included. */
  readonly requestsPerSecond: number;
  /** One attempt's longest time, headers and body together. */
  readonly timeoutMs: number;
  /** Tries per case, the first included. */
  readonly attempts: number;
  /** Backoff before the second try; doubles after each. */
  readonly baseDelayMs: number;
  /** The longest wait between tries; a Retry-After asking for more ends the case's tries. */
  readonly maxDelayMs: number;
}

export const DEFAULT_LIMITS: RunLimits = {
  concurrency: 4,
  requestsPerSecond: 8,
  timeoutMs: 60_000,
  attempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};

export interface RunDeps {
  readonly endpoint: CompletionEndpoint;
  /** Milliseconds, for latency and pacing. */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** The X-Request-Id of one attempt of a case. */
  readonly requestId: (caseId: string, attempt: number) => string;
  /** In [0, 1): the jitter of a backoff (half the delay fixed, half random). */
  readonly random?: () => number;
  /** Told of each case as it ends (progress). */
  readonly onCase?: (result: CaseResult) => void;
}

export interface SuiteToRun {
  readonly manifest: SuiteManifest;
  readonly cases: readonly SuiteCase[];
}

/** Runs every case and returns their results in the suite's order. */
export async function runSuite(
  suite: SuiteToRun,
  model: string,
  limits: RunLimits,
  deps: RunDeps,
): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array<CaseResult>(suite.cases.length);
  const pace = pacer(limits.requestsPerSecond, deps);
  await eachInParallel(suite.cases, limits.concurrency, async (c, index) => {
    const outcome = await runCase(suite.manifest, c, model, limits, deps, pace);
    const result = caseResult(suite.manifest, c, outcome);
    results[index] = result;
    deps.onCase?.(result);
  });
  return results;
}

async function runCase(
  manifest: SuiteManifest,
  c: SuiteCase,
  model: string,
  limits: RunLimits,
  deps: RunDeps,
  pace: () => Promise<void>,
): Promise<CaseOutcome> {
  const request = caseRequest(manifest, c, model);
  const attribution = {
    tenant: manifest.tenant,
    feature: manifest.feature,
    requestClass: manifest.requestClass,
  };
  const random = deps.random ?? Math.random;
  let reason = 'no attempt was made';
  for (let attempt = 1; attempt <= limits.attempts; attempt += 1) {
    await pace();
    const started = deps.now();
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
    }, limits.timeoutMs);
    let result;
    try {
      result = await deps.endpoint.attempt(
        request,
        attribution,
        deps.requestId(c.id, attempt),
        controller.signal,
      );
    } finally {
      clearTimeout(timer);
    }
    if (result.ok) {
      return {
        kind: 'answered',
        text: result.text,
        latencyMs: deps.now() - started,
        attempts: attempt,
        ...(result.promptTokens === undefined ? {} : { promptTokens: result.promptTokens }),
        ...(result.completionTokens === undefined ? {} : { completionTokens: result.completionTokens }),
        ...(result.finishReason === undefined ? {} : { finishReason: result.finishReason }),
      };
    }
    reason = controller.signal.aborted ? `timed out after ${limits.timeoutMs} ms` : result.reason;
    if (!result.retryable) return { kind: 'failed', reason, attempts: attempt };
    if (attempt === limits.attempts) break;
    const backoff = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** (attempt - 1));
    const jittered = backoff / 2 + (random() * backoff) / 2;
    const asked = result.retryAfterMs ?? 0;
    if (asked > limits.maxDelayMs)
      return {
        kind: 'failed',
        reason: `${reason}; Retry-After asked for ${Math.ceil(asked / 1000)} s, more than the ${limits.maxDelayMs / 1000} s allowed`,
        attempts: attempt,
      };
    await deps.sleep(Math.max(jittered, asked));
  }
  return {
    kind: 'failed',
    reason: `${reason} (after ${limits.attempts} attempts)`,
    attempts: limits.attempts,
  };
}
