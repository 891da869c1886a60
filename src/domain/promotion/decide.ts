/**
 * The promotion decision (contracts.md §16): a registered candidate version of a model goes into
 * service only when its own evaluation passes the quality gate (§10) and the release cost gate
 * (§11) passes on its replayed workload against the current version's. Pure.
 *
 * It fails closed: every step that cannot be shown to have passed is a reason to hold, and every
 * reason is collected, not only the first (the job did not complete, the version is not registered,
 * the evaluation is missing, of another version, stale or partial, the cost gate has no evidence or
 * failed, the quality gate failed).
 */
import type { EvaluationEvent } from '../events.js';
import { judge } from '../gate/judge.js';
import type { GateRules } from '../gate/rules.js';
import { evaluationOf, type Evaluation, type Judgement } from '../gate/verdict.js';
import { formatTimestamp } from '../timestamp.js';

/** The retraining job the candidate came from, as read from Azure ML. */
export interface CandidateJob {
  readonly name: string;
  readonly status: string;
}

/** The model version registered from the job's output, when it was. */
export interface Registration {
  readonly model: string;
  readonly version: string;
  readonly modelUri: string;
  readonly jobName: string;
}

/** The release cost gate's verdict as `chargeback cost-gate` writes it in cost-gate.json (§11). */
export interface CostGateEvidence {
  readonly verdict: 'pass' | 'fail';
  readonly reasons: readonly string[];
  readonly trafficDays: readonly string[];
  /** Where it was read from, for the verdict's evidence. */
  readonly ref: string;
}

export interface PromotionInput {
  readonly model: string;
  readonly candidateVersion: string;
  readonly currentVersion: string;
  /** The job, or undefined when none is known for the candidate. */
  readonly job?: CandidateJob;
  /** The registration, or undefined when the version is not registered. */
  readonly registration?: Registration;
  /** Why the version is not registered, when that was recorded (the follow gave up on it). */
  readonly notRegisteredReason?: string;
  /** Evaluation events of the model: the candidate's and, for maxDrop, the current version's. */
  readonly evaluations: readonly EvaluationEvent[];
  /** Where the evaluations were read from. */
  readonly evaluationRef: string;
  readonly rules: GateRules | { readonly error: string };
  /** The cost gate's result, or `{ error }` when there is none that can be read. */
  readonly costGate: CostGateEvidence | { readonly error: string };
  /** Microseconds since the epoch. */
  readonly atUs: number;
}

export interface PromotionVerdict {
  readonly model: string;
  readonly candidateVersion: string;
  readonly currentVersion: string;
  readonly decision: 'promote' | 'hold';
  readonly reasons: readonly string[];
  readonly evidence: {
    readonly job: string | null;
    readonly modelUri: string | null;
    /** eventId of the judged evaluation of the candidate. */
    readonly evaluation: string | null;
    readonly evaluationSource: string;
    readonly qualityGate: 'pass' | 'fail';
    readonly costGate: 'pass' | 'fail' | 'missing';
    readonly costGateSource: string | null;
  };
  /** ISO 8601 UTC. */
  readonly decidedAt: string;
}

export function decidePromotion(input: PromotionInput): PromotionVerdict {
  const { model, candidateVersion: candidate } = input;
  const reasons: string[] = [];
  if (candidate === input.currentVersion)
    reasons.push(`the candidate version ${candidate} is the version in service`);

  if (input.job === undefined) reasons.push(`no retraining job is known for version ${candidate}`);
  else if (input.job.status !== 'Completed')
    reasons.push(`retraining job ${input.job.name} is ${input.job.status}, not Completed`);

  const registration = input.registration;
  if (registration === undefined)
    reasons.push(
      `model ${model} version ${candidate} is not registered in the workspace` +
        (input.notRegisteredReason === undefined ? '' : `: ${input.notRegisteredReason}`),
    );
  else if (registration.model !== model || registration.version !== candidate)
    reasons.push(
      `the registration is of ${registration.model} version ${registration.version}, not ${model} version ${candidate}`,
    );
  else if (input.job !== undefined && registration.jobName !== input.job.name)
    reasons.push(
      `version ${candidate} was registered from job ${registration.jobName}, not ${input.job.name}`,
    );

  const quality = qualityOf(input);
  reasons.push(...quality.reasons);

  const cost = input.costGate;
  if ('error' in cost) reasons.push(`no release cost gate evidence: ${cost.error}`);
  else if (cost.trafficDays.length === 0)
    reasons.push('the release cost gate had no days of real traffic to project onto');
  else if (cost.verdict !== 'pass')
    reasons.push(
      ...(cost.reasons.length === 0
        ? ['the release cost gate failed']
        : cost.reasons.map((r) => `cost gate: ${r}`)),
    );

  const costGate =
    'error' in cost ? 'missing' : cost.verdict === 'pass' && cost.trafficDays.length > 0 ? 'pass' : 'fail';
  return {
    model,
    candidateVersion: candidate,
    currentVersion: input.currentVersion,
    decision: reasons.length === 0 ? 'promote' : 'hold',
    reasons,
    evidence: {
      job: input.job?.name ?? null,
      modelUri: registration?.modelUri ?? null,
      evaluation: quality.judged?.eventId ?? null,
      evaluationSource: input.evaluationRef,
      qualityGate: quality.reasons.length === 0 ? 'pass' : 'fail',
      costGate,
      costGateSource: 'error' in cost ? null : cost.ref,
    },
    decidedAt: formatTimestamp(input.atUs),
  };
}

/**
 * The quality gate on the candidate: the model's history judged at `atUs` with the candidate's
 * evaluations last, so that maxDrop compares the candidate with the current version's last passing
 * evaluation. The latest evaluation must be the candidate's, and complete.
 */
function qualityOf(input: PromotionInput): { reasons: string[]; judged?: Evaluation } {
  const { model, candidateVersion: candidate } = input;
  const mine = input.evaluations.filter(
    (e) => e.model === model && e.modelVersion === candidate && e.evaluatedAt <= input.atUs,
  );
  if (mine.length === 0)
    return {
      reasons: [`no evaluation of ${model} version ${candidate} at or before ${formatTimestamp(input.atUs)}`],
    };
  const latestOfCandidate = mine.reduce((a, b) =>
    b.evaluatedAt > a.evaluatedAt || (b.evaluatedAt === a.evaluatedAt && b.eventId > a.eventId) ? b : a,
  );
  // The earlier history (other versions) stays for maxDrop; nothing after the candidate's evaluation counts.
  const history = input.evaluations
    .filter(
      (e) =>
        e.model === model &&
        (e.modelVersion === candidate
          ? e === latestOfCandidate
          : e.evaluatedAt < latestOfCandidate.evaluatedAt),
    )
    .map(evaluationOf);
  const judgement: Judgement = judge(model, history, input.rules, input.atUs);
  const reasons: string[] = [];
  const run = (latestOfCandidate as { run?: { complete?: unknown } }).run;
  const completed = latestOfCandidate.metrics.completed;
  if (run?.complete === false || (completed !== undefined && completed < 1))
    reasons.push(
      `evaluation ${latestOfCandidate.eventId} of version ${candidate} is partial (completed ${completed ?? 'unknown'}): a candidate is judged on a complete run`,
    );
  if (judgement.verdict.verdict !== 'pass')
    reasons.push(...judgement.verdict.reasons.map((r) => `quality gate: ${r}`));
  return { reasons, judged: evaluationOf(latestOfCandidate) };
}
