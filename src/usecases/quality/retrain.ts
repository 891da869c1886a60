/**
 * A failed gate -> at most one Azure ML retraining job (contracts.md §7 and §10).
 *
 * Why no failure ever starts two jobs, and no job goes untraced or unpaid:
 * - The job name is derived from the failure (model, version, dataset, evaluation): a redelivered
 *   event finds its record, or Azure ML's job of that name, and submits nothing new.
 * - The decision (slot free, cooldown over, budget left) and the reservation are one conditional
 *   write of the shared state: of two failures decided at once, one wins; the other reads again and
 *   finds the model busy.
 * - The record (with the exact body) is written before Azure ML is called, and Azure ML is read
 *   before it is written to: a crash anywhere leaves a `Submitting` record that the next follow
 *   (or the same event again) finishes with the same job. A slot whose record was never written is
 *   given back by the follow after a grace period (see follow.ts).
 * - A refusal over budget is a record and a Teams notice with the estimate, never a silent skip.
 */
import { PermanentError, TransientError } from '../../domain/errors.js';
import {
  jobRefusedMessage,
  jobSubmittedMessage,
  retrainingImpossibleMessage,
  type NoticeContext,
} from '../../domain/gate/card.js';
import { retrainable, type Judgement, type RetrainOutcome } from '../../domain/gate/verdict.js';
import type { PriceCard } from '../../domain/prices.js';
import { retrainingFor, type RetrainingConfig } from '../../domain/retrain/config.js';
import { buildRetrainingJob, type RetrainingTarget } from '../../domain/retrain/job-spec.js';
import { abandon, decide, usd, type RetrainLimits } from '../../domain/retrain/policy.js';
import type { JobRecord } from '../../domain/retrain/record.js';
import type { RetrainingJobs } from '../../ports/retraining-jobs.js';
import type { Versioned } from '../../ports/retraining-store.js';
import { announce, post, type NoticeDeps } from './notices.js';

export interface RetrainDeps extends NoticeDeps {
  readonly jobs: RetrainingJobs;
  readonly prices: PriceCard;
  readonly config: RetrainingConfig;
  readonly target: RetrainingTarget;
  readonly limits: RetrainLimits;
  readonly context?: NoticeContext;
}

const MAX_STATE_ATTEMPTS = 8;
/**
 * Statuses in which the cluster's nodes are running the job: its GPU-time is charged from the first
 * one seen. `NotResponding` is one: a job goes there when its heartbeat stops, so it had started, and
 * its nodes stay held until it returns to another status or ends.
 */
export const RUNNING_STATUSES: readonly string[] = ['Running', 'Finalizing', 'NotResponding'];

/** Submits a job for a gate failed on quality, unless policy says no; says what happened. */
export async function retrainOnFailure(j: Judgement, deps: RetrainDeps): Promise<RetrainOutcome> {
  if (j.verdict.verdict === 'pass') return { job: null, reason: 'the gate passed' };
  const latest = j.latest;
  if (!retrainable(j) || latest === undefined)
    return {
      job: null,
      reason:
        'not retrained: the gate failed for want of evidence, not on a metric; a new model would not fix that',
    };
  const model = j.verdict.model;
  const retraining = retrainingFor(deps.config, model);
  if (retraining === undefined)
    return {
      job: null,
      reason: `not retrained: the retraining config has no entry for this model and no "*"`,
    };
  const now = deps.now();
  let plan: ReturnType<typeof buildRetrainingJob>;
  try {
    plan = buildRetrainingJob({
      failure: {
        model,
        modelVersion: latest.modelVersion,
        dataset: latest.dataset,
        evaluation: latest.eventId,
        ...(latest.commit === undefined ? {} : { commit: latest.commit }),
        reasons: j.verdict.reasons,
      },
      retraining,
      config: deps.config,
      target: deps.target,
      prices: deps.prices,
      at: now.getTime() * 1000,
    });
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    // No estimate, no job: an unpriced SKU is refused, and said, like an unaffordable one.
    const reason = `refused: cannot estimate the job's cost: ${error.message}`;
    await post(
      `retraining/${model}/${latest.eventId}/unpriced`,
      retrainingImpossibleMessage(model, latest.eventId, reason, deps.context),
      deps,
    );
    return { job: null, reason };
  }
  const existing = await deps.store.job(plan.name);
  if (existing !== undefined) return outcomeOf(await settle(existing, deps));
  const record: JobRecord = {
    name: plan.name,
    model,
    modelVersion: latest.modelVersion,
    dataset: latest.dataset,
    evaluation: latest.eventId,
    reasons: j.verdict.reasons,
    status: 'Submitting',
    estimatedMicroUsd: plan.estimate.microUsd,
    gpuSku: deps.target.computeSku,
    instanceCount: plan.body.resources.instanceCount,
    gpusPerInstance: plan.estimate.gpusPerInstance,
    decidedAt: now.toISOString(),
    notified: [],
    body: plan.body,
  };
  for (let attempt = 0; attempt < MAX_STATE_ATTEMPTS; attempt++) {
    const { value: state, version } = await deps.store.state();
    const d = decide(
      state,
      { model, job: plan.name, estimateMicroUsd: plan.estimate.microUsd, now },
      deps.limits,
    );
    if (d.kind === 'busy' || d.kind === 'cooldown')
      return { job: null, reason: `not retrained: ${d.reason}` };
    if (d.kind === 'refuse') return refuse({ ...record, status: 'Refused', refusal: d.reason }, deps);
    if (d.kind === 'submit' && (await deps.store.putState(d.state, version)) === 'conflict') continue;
    // Won the slot (or it was already this job's): the record goes down before Azure ML is called.
    if ((await deps.store.putJob(record, undefined)) === 'written')
      return outcomeOf(
        await settle((await deps.store.job(plan.name)) ?? { value: record, version: undefined }, deps),
      );
    const raced = await deps.store.job(plan.name);
    if (raced !== undefined) return outcomeOf(await settle(raced, deps));
  }
  throw new TransientError(`retraining ${model}: the shared state kept changing; will retry`);
}

async function refuse(record: JobRecord, deps: RetrainDeps): Promise<RetrainOutcome> {
  const reason = `refused: ${record.refusal ?? ''}`;
  if ((await deps.store.putJob(record, undefined)) === 'written') {
    const stored = (await deps.store.job(record.name)) ?? { value: record, version: undefined };
    await announce(stored, 'refused', (r) => jobRefusedMessage(r, deps.context), deps);
  }
  return { job: null, reason };
}

/**
 * Brings a record up to date with Azure ML: a `Submitting` one is read there first and created only
 * if absent (contracts.md §7); an Azure ML that cannot be reached leaves it `Submitting` for the next follow.
 */
export async function settle(
  current: Versioned<JobRecord>,
  deps: RetrainDeps,
): Promise<Versioned<JobRecord>> {
  if (current.value.status !== 'Submitting') return current;
  const leased = await leaseSubmission(current, deps);
  if (leased === undefined) return (await deps.store.job(current.value.name)) ?? current;
  return submit(leased, deps);
}

/** How long one run may take to read and create a job before another may try. */
const SUBMIT_LEASE_MS = 5 * 60_000;

/**
 * Takes the right to call Azure ML for a `Submitting` record, with a conditional write; undefined
 * when another run holds it (that run finishes the submission; the follow does, should it die).
 */
async function leaseSubmission(
  current: Versioned<JobRecord>,
  deps: RetrainDeps,
): Promise<Versioned<JobRecord> | undefined> {
  const now = deps.now().getTime();
  const held = current.value.submitLeaseUntil;
  if (held !== undefined && Date.parse(held) > now) return undefined;
  const claimed: JobRecord = {
    ...current.value,
    submitLeaseUntil: new Date(now + SUBMIT_LEASE_MS).toISOString(),
  };
  if ((await deps.store.putJob(claimed, current.version)) === 'conflict') return undefined;
  return (await deps.store.job(claimed.name)) ?? { value: claimed, version: undefined };
}

async function submit(current: Versioned<JobRecord>, deps: RetrainDeps): Promise<Versioned<JobRecord>> {
  const name = current.value.name;
  let status: string;
  try {
    const found = (await deps.jobs.get(name)) ?? (await createOrFind(name, current.value, deps));
    status = found.status;
  } catch (error) {
    if (error instanceof TransientError) {
      deps.log(
        `retraining: ${name} not submitted yet, Azure ML did not answer (${error.message}); the follow retries`,
      );
      // Give the lease back, so the next run (a redelivery, the follow) tries at once.
      const { submitLeaseUntil: _held, ...released } = current.value;
      await deps.store.putJob(released, current.version);
      return (await deps.store.job(name)) ?? current;
    }
    if (error instanceof PermanentError) return rejected(current, error.message, deps);
    throw error;
  }
  const now = deps.now().toISOString();
  const { submitLeaseUntil: _lease, ...unleased } = current.value;
  const updated: JobRecord = {
    ...unleased,
    status,
    ...(RUNNING_STATUSES.includes(status) ? { runningSince: current.value.runningSince ?? now } : {}),
  };
  if ((await deps.store.putJob(updated, current.version)) === 'conflict')
    return (await deps.store.job(name)) ?? current;
  const stored = (await deps.store.job(name)) ?? { value: updated, version: undefined };
  return announce(stored, 'submitted', (r) => jobSubmittedMessage(r, deps.context), deps);
}

/** Creates the job; a 409 means another run created it a moment ago: read it. */
async function createOrFind(name: string, record: JobRecord, deps: RetrainDeps) {
  try {
    return await deps.jobs.create(name, record.body);
  } catch (error) {
    const found = error instanceof PermanentError ? await deps.jobs.get(name) : undefined;
    if (found !== undefined) return found;
    throw error;
  }
}

/** Azure ML refused the job itself (bad body, no permission): the slot and the budget are given back. */
async function rejected(
  current: Versioned<JobRecord>,
  reason: string,
  deps: RetrainDeps,
): Promise<Versioned<JobRecord>> {
  const record: JobRecord = {
    ...current.value,
    status: 'Refused',
    refusal: `Azure ML refused the job: ${reason}`,
  };
  if ((await deps.store.putJob(record, current.version)) === 'conflict')
    return (await deps.store.job(record.name)) ?? current;
  for (let attempt = 0; attempt < MAX_STATE_ATTEMPTS; attempt++) {
    const { value: state, version } = await deps.store.state();
    const next = abandon(state, record.model, record.name);
    if (next === state || (await deps.store.putState(next, version)) === 'written') break;
  }
  const stored = (await deps.store.job(record.name)) ?? { value: record, version: undefined };
  return announce(stored, 'refused', (r) => jobRefusedMessage(r, deps.context), deps);
}

function outcomeOf(record: Versioned<JobRecord>): RetrainOutcome {
  const r = record.value;
  const job = {
    name: r.name,
    status: r.status,
    estimatedCostUsd: Math.round(r.estimatedMicroUsd / 10_000) / 100,
  };
  if (r.status === 'Refused')
    return { job: null, reason: `refused: ${r.refusal ?? ''} (estimated ${usd(r.estimatedMicroUsd)})` };
  return { job };
}
