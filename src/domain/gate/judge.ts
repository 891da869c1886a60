/**
 * The quality gate's judgement (contracts.md §10): the latest evaluation of a model at an instant, against
 * the model's rules. It fails closed: anything the gate cannot tell (no rules, no evaluation, the
 * wrong dataset, a stale evaluation, a missing or non-finite metric) is a failure with its reason,
 * never a pass. Every failure is collected, not only the first.
 *
 * Order: evaluations are ordered by evaluatedAtUs, then eventId in code-unit order (the order the
 * QualityStore keeps them in), so two evaluations at the same instant have a fixed latest: the one
 * with the greater eventId. The result does not depend on the order of `history`.
 */
import { escapeControlCharacters } from '../text.js';
import { formatTimestamp } from '../timestamp.js';
import { rulesFor, type GateRules, type MetricBound, type ModelRules } from './rules.js';
import type { Evaluation, GateFailure, Judgement } from './verdict.js';

const MICROS_PER_HOUR = 3_600_000_000;
/** The metric a harness run reports as the share of its cases that completed (contracts.md §13). */
export const COMPLETED = 'completed';

/**
 * Judges `model` at `atUs` (microseconds since the epoch) from its evaluation history. `rules` is
 * the parsed rules file, or `{ error }` when it could not be read or parsed: then the gate fails
 * with that error as its reason.
 *
 * maxDrop compares the latest evaluation with the last evaluation before it, of the same model and
 * dataset, that passed the metric bounds at its own time (each judged against the one passing before
 * it; staleness does not apply to history). With no earlier passing evaluation (a model's first
 * evaluation on a dataset) a maxDrop bound has nothing to compare with and does not fail; min and
 * max still apply.
 */
export function judge(
  model: string,
  history: readonly Evaluation[],
  rules: GateRules | { readonly error: string },
  atUs: number,
): Judgement {
  const at = formatTimestamp(atUs);
  const evaluations = chronological(history.filter((e) => e.model === model && e.evaluatedAtUs <= atUs));
  const latest = evaluations.at(-1);
  const failures: GateFailure[] = [];
  const entry = 'error' in rules ? undefined : rulesFor(rules, model);
  if ('error' in rules) failures.push(evidence(`cannot use the rules: ${rules.error}`));
  else if (entry === undefined)
    failures.push(evidence(`the rules have no entry for model ${model} and no "*" entry`));
  if (latest === undefined) failures.push(evidence(`no evaluation of model ${model} at or before ${at}`));
  else if (entry !== undefined) failures.push(...judgeLatest(latest, evaluations, entry, atUs));
  return {
    verdict: {
      model,
      modelVersion: latest?.modelVersion ?? null,
      verdict: failures.length === 0 ? 'pass' : 'fail',
      reasons: failures.map((f) => f.reason),
      evaluation: latest?.eventId ?? null,
      dataset: latest?.dataset ?? null,
    },
    failures,
    ...(latest === undefined ? {} : { latest }),
    at,
  };
}

/**
 * The judgement with one more failure in front of its own: for what the caller knows and the
 * judgement could not (its evaluations could not all be read). The verdict is then a fail.
 */
export function withFailure(judgement: Judgement, failure: GateFailure): Judgement {
  const failures = [failure, ...judgement.failures];
  return {
    ...judgement,
    verdict: { ...judgement.verdict, verdict: 'fail', reasons: failures.map((f) => f.reason) },
    failures,
  };
}

/** The lines `chargeback gate` prints: the verdict, then one `  - reason` line per reason. */
export function renderVerdict(judgement: Judgement): string {
  const v = judgement.verdict;
  const word = v.verdict === 'pass' ? 'PASS' : 'FAIL';
  // Every string here may come from an event or the rules file: a newline in it must not start a
  // line of its own (a forged "PASS"), so control characters are shown escaped.
  const head =
    v.evaluation === null
      ? `${word} ${escapeControlCharacters(v.model)} (no evaluation)`
      : `${word} ${escapeControlCharacters(v.model)} ${escapeControlCharacters(v.modelVersion ?? '')} ` +
        `on ${escapeControlCharacters(v.dataset ?? '')} (evaluation ${escapeControlCharacters(v.evaluation)})`;
  return [head, ...v.reasons.map((r) => `  - ${escapeControlCharacters(r)}`)].join('\n');
}

/** The exit status of a judgement: 0 when it passed, 1 when it failed. */
export function exitCodeOf(judgement: Judgement): 0 | 1 {
  return judgement.verdict.verdict === 'pass' ? 0 : 1;
}

function judgeLatest(
  latest: Evaluation,
  evaluations: readonly Evaluation[],
  entry: ModelRules,
  atUs: number,
): GateFailure[] {
  const failures: GateFailure[] = [];
  if (latest.dataset !== entry.dataset)
    failures.push(
      evidence(
        `evaluation ${latest.eventId} used dataset ${latest.dataset}; the rules require ${entry.dataset}`,
      ),
    );
  const ageUs = atUs - latest.evaluatedAtUs;
  if (ageUs > entry.maxAgeHours * MICROS_PER_HOUR)
    failures.push(
      evidence(
        `evaluation ${latest.eventId} is stale: evaluated at ${latest.evaluatedAt}, ` +
          `${hours(ageUs, entry.maxAgeHours)} hours before ${formatTimestamp(atUs)}; ` +
          `the limit is ${entry.maxAgeHours} hours`,
      ),
    );
  const earlier = evaluations.filter((e) => e !== latest && e.dataset === latest.dataset);
  failures.push(...metricFailures(latest, entry.metrics, lastPassing(earlier, entry.metrics)));
  return failures;
}

/**
 * The last evaluation that passed the metric bounds, each judged against the one passing before it:
 * one pass in time order, so a failed evaluation never becomes the reference for the next.
 */
function lastPassing(
  evaluations: readonly Evaluation[],
  bounds: Readonly<Record<string, MetricBound>>,
): Evaluation | undefined {
  let passing: Evaluation | undefined;
  for (const e of evaluations) if (metricFailures(e, bounds, passing).length === 0) passing = e;
  return passing;
}

function metricFailures(
  e: Evaluation,
  bounds: Readonly<Record<string, MetricBound>>,
  reference: Evaluation | undefined,
): GateFailure[] {
  const failures: GateFailure[] = [];
  // contracts.md §13: a run in which a case could not be completed is a failed run, whatever the
  // rules name: its scores are those of the cases that happened to answer. Evidence, not quality:
  // a flaky endpoint is not a reason to retrain.
  const completed = Object.hasOwn(e.metrics, COMPLETED) ? e.metrics[COMPLETED] : undefined;
  if (completed !== undefined && !(typeof completed === 'number' && completed >= 1))
    failures.push(
      evidence(
        `evaluation ${e.eventId} is a partial run: ${COMPLETED} ${String(completed)} (the share of its cases that completed) is below 1, and a partial run never passes`,
        COMPLETED,
      ),
    );
  for (const metric of Object.keys(bounds).sort()) {
    const bound = bounds[metric] ?? {};
    const value = Object.hasOwn(e.metrics, metric) ? e.metrics[metric] : undefined;
    if (value === undefined) {
      failures.push(evidence(`metric ${metric} is missing from evaluation ${e.eventId}`, metric));
      continue;
    }
    // The events' schema refuses a non-finite value, but the history may come from a store.
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      failures.push(evidence(`metric ${metric} is ${String(value)}, not a finite number`, metric));
      continue;
    }
    if (bound.min !== undefined && value < bound.min)
      failures.push(quality(`${metric} ${value} is below its min ${bound.min}`, metric));
    if (bound.max !== undefined && value > bound.max)
      failures.push(quality(`${metric} ${value} is above its max ${bound.max}`, metric));
    const before = reference?.metrics[metric];
    if (bound.maxDrop !== undefined && reference !== undefined && before !== undefined) {
      const fall = before - value;
      if (exceeds(fall, bound.maxDrop, before, value))
        failures.push(
          quality(
            `${metric} fell by ${rounded(fall)} from ${before} (evaluation ${reference.eventId}, the last ` +
              `passing one) to ${value}, more than its maxDrop ${bound.maxDrop}`,
            metric,
          ),
        );
    }
  }
  return failures;
}

// 0.80 - 0.78 is 0.020000000000000018 in binary floating point: a fall of exactly maxDrop must not
// fail on the rounding of the subtraction, so a fall is compared to within 1e-9 of the values' scale.
function exceeds(fall: number, maxDrop: number, a: number, b: number): boolean {
  return fall - maxDrop > 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

function rounded(n: number): number {
  return Number(n.toPrecision(12));
}

/** The age in hours, to two decimals unless that would round it down to the limit. */
function hours(ageUs: number, limit: number): string {
  const exact = ageUs / MICROS_PER_HOUR;
  const short = Number(exact.toFixed(2));
  return String(short > limit ? short : exact);
}

/**
 * The evaluations in time order, each eventId once. A redelivered evaluation is the same object
 * twice; should two differ under one eventId, the one whose content sorts first is kept, so the
 * choice does not depend on the input's order either.
 */
function chronological(history: readonly Evaluation[]): Evaluation[] {
  const byId = new Map<string, Evaluation>();
  for (const e of history) {
    const kept = byId.get(e.eventId);
    if (kept === undefined || (kept !== e && contentKey(e) < contentKey(kept))) byId.set(e.eventId, e);
  }
  return [...byId.values()].sort(
    (a, b) =>
      a.evaluatedAtUs - b.evaluatedAtUs || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0),
  );
}

function contentKey(e: Evaluation): string {
  const metrics = Object.keys(e.metrics)
    .sort()
    .map((k) => [k, String(e.metrics[k])]);
  return JSON.stringify([
    e.evaluatedAtUs,
    e.modelVersion,
    e.dataset,
    metrics,
    e.evaluatedAt,
    e.commit ?? null,
  ]);
}

function evidence(reason: string, metric?: string): GateFailure {
  return { kind: 'evidence', reason, ...(metric === undefined ? {} : { metric }) };
}

function quality(reason: string, metric: string): GateFailure {
  return { kind: 'quality', reason, metric };
}
