/**
 * One case's result and a run's metrics (contracts.md §13). A case that could not be completed
 * counts in every metric it would have been scored on, with the worst score: the run's figures are
 * never those of the cases that happened to answer. `completed` is the share of cases that did.
 */
import type { SuiteCase } from './cases.js';
import {
  exactMatch,
  jsonSchemaScore,
  jsonValid,
  refusalScore,
  regexChecks,
  tokenF1,
  toxicityScore,
  type Score,
} from './scorers.js';
import type { SuiteManifest } from './suite.js';

/** What the endpoint gave for a case after its retries. */
export type CaseOutcome =
  | {
      readonly kind: 'answered';
      readonly text: string;
      readonly latencyMs: number;
      readonly attempts: number;
      readonly promptTokens?: number;
      readonly completionTokens?: number;
      readonly finishReason?: string;
    }
  | { readonly kind: 'failed'; readonly reason: string; readonly attempts: number };

/** One line of the `.cases.ndjson` file beside the event. */
export interface CaseResult {
  readonly id: string;
  readonly status: 'completed' | 'not-completed';
  readonly attempts: number;
  readonly answer?: string;
  readonly finishReason?: string;
  readonly latencyMs?: number;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  /** Each scorer's score of this case, by metric name. */
  readonly scores: Readonly<Record<string, number>>;
  /** Every check that failed, `metric: why`; `not completed: why` for a case with no answer. */
  readonly failures: readonly string[];
}

/** Metrics where lower is better: a case with no answer counts as 1, not 0. */
const LOWER_IS_BETTER = new Set(['toxicity']);

/** The metrics a case is scored on under the manifest, in a fixed order. */
export function metricsOfCase(manifest: SuiteManifest, c: SuiteCase): string[] {
  const s = manifest.scorers;
  const out: string[] = [];
  if (c.expected !== undefined && s.exact_match !== undefined) out.push('exact_match');
  if (c.expected !== undefined && s.f1 !== undefined) out.push('f1');
  if (c.checks.json && s.json !== undefined) {
    out.push('json_valid');
    if ((c.checks.schema ?? s.json.schema) !== undefined) out.push('json_schema');
  }
  if (s.regex !== undefined && c.checks.mustMatch.length + c.checks.mustNotMatch.length > 0)
    out.push('regex');
  if (s.refusal !== undefined) out.push('refusal_correct');
  if (s.toxicity !== undefined) out.push('toxicity');
  return out;
}

function scoreOf(metric: string, manifest: SuiteManifest, c: SuiteCase, answer: string): Score {
  const s = manifest.scorers;
  const expected = c.expected ?? [];
  switch (metric) {
    case 'exact_match':
      return exactMatch(answer, expected);
    case 'f1':
      return tokenF1(answer, expected);
    case 'json_valid':
      return jsonValid(answer);
    case 'json_schema': {
      const schema = c.checks.schema ?? s.json?.schema;
      return schema === undefined ? { score: 1 } : jsonSchemaScore(answer, schema);
    }
    case 'regex':
      return regexChecks(answer, c.checks.mustMatch, c.checks.mustNotMatch);
    case 'refusal_correct':
      return refusalScore(answer, c.checks.refuse, s.refusal?.phrases ?? []);
    case 'toxicity':
      return toxicityScore(answer, s.toxicity?.blockedWords ?? []);
    default:
      throw new Error(`no scorer for metric ${metric}`);
  }
}

/** Scores one case's outcome with every scorer that applies to it. */
export function caseResult(manifest: SuiteManifest, c: SuiteCase, outcome: CaseOutcome): CaseResult {
  const metrics = metricsOfCase(manifest, c);
  if (outcome.kind === 'failed') {
    const scores = Object.fromEntries(metrics.map((m) => [m, LOWER_IS_BETTER.has(m) ? 1 : 0]));
    return {
      id: c.id,
      status: 'not-completed',
      attempts: outcome.attempts,
      scores,
      failures: [`not completed: ${outcome.reason}`],
    };
  }
  const scores: Record<string, number> = {};
  const failures: string[] = [];
  for (const metric of metrics) {
    const { score, why } = scoreOf(metric, manifest, c, outcome.text);
    scores[metric] = score;
    if (why !== undefined) failures.push(`${metric}: ${why}`);
  }
  return {
    id: c.id,
    status: 'completed',
    attempts: outcome.attempts,
    answer: outcome.text,
    ...(outcome.finishReason === undefined ? {} : { finishReason: outcome.finishReason }),
    latencyMs: outcome.latencyMs,
    ...(outcome.promptTokens === undefined ? {} : { promptTokens: outcome.promptTokens }),
    ...(outcome.completionTokens === undefined ? {} : { completionTokens: outcome.completionTokens }),
    scores,
    failures,
  };
}

/** The nearest-rank percentile (p in (0, 1]) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * The run's metrics, every one a finite number: each scorer's mean over the cases it applies to,
 * `completed` (share of cases answered), `passed` (share answered with no failed check), `cases`,
 * and, over the answered cases, `latency_p95_ms` and tokens per case. A figure with nothing to
 * measure (no case answered) is left out rather than invented; a gate that names it then fails.
 */
export function runMetrics(results: readonly CaseResult[]): Record<string, number> {
  const metrics: Record<string, number> = {};
  const total = results.length;
  const byMetric = new Map<string, number[]>();
  for (const r of results)
    for (const [m, score] of Object.entries(r.scores)) byMetric.set(m, [...(byMetric.get(m) ?? []), score]);
  for (const [m, scores] of [...byMetric].sort(([a], [b]) => (a < b ? -1 : 1))) metrics[m] = mean(scores);
  const answered = results.filter((r) => r.status === 'completed');
  metrics.cases = total;
  metrics.completed = total === 0 ? 0 : answered.length / total;
  metrics.passed = total === 0 ? 0 : answered.filter((r) => r.failures.length === 0).length / total;
  const latencies = answered.flatMap((r) => (r.latencyMs === undefined ? [] : [r.latencyMs]));
  if (latencies.length > 0) metrics.latency_p95_ms = percentile(latencies, 0.95);
  const counted = answered.filter((r) => r.completionTokens !== undefined && r.promptTokens !== undefined);
  if (counted.length > 0) {
    metrics.completion_tokens_per_case = mean(counted.map((r) => r.completionTokens ?? 0));
    metrics.tokens_per_case = mean(counted.map((r) => (r.promptTokens ?? 0) + (r.completionTokens ?? 0)));
  }
  return metrics;
}
