/**
 * Following retraining jobs on a cadence (the quality timer): each job not yet ended is read from
 * Azure ML; the first time it is seen running starts its GPU-time; when it ends, its cost is
 * computed on the price card, its slot is released (the cooldown starts) with the month's spend
 * set to what it cost, the days it ran are marked for (re)reporting so the chargeback shows it, and
 * Teams is told once.
 *
 * GPU-time runs from the first follow that saw the job running (or, for a job seen only once it had
 * completed, from its creation) to Azure ML's last modification of the ended job. Both ends are
 * known to within one follow interval; docs/retraining.md says so. A job that failed or was
 * cancelled without ever being seen running is charged nothing and says so on its card.
 *
 * A completed job's output is registered as a model version (contracts.md §16). A registration that
 * fails is tried again on later follows, up to a bound, with the reason kept on the job record; after
 * the last try the record says "not registered" with the reason, Teams is told once, and a promotion
 * of that version holds with that reason. Each try reads the version first, so a registration that
 * succeeded but whose answer was lost is found, not made twice.
 */
import { dayOfMs } from '../../domain/days.js';
import { TransientError } from '../../domain/errors.js';
import { jobEndedMessage, notRegisteredMessage } from '../../domain/gate/card.js';
import {
  nextRegistration,
  registrationDue,
  type RegistrationTry,
} from '../../domain/promotion/registration.js';
import { costOfRun } from '../../domain/retrain/estimate.js';
import { abandon, monthOf, release } from '../../domain/retrain/policy.js';
import type { JobRecord } from '../../domain/retrain/record.js';
import type { Ledger } from '../../ports/ledger.js';
import type { ModelRegistry } from '../../ports/model-registry.js';
import type { JobState } from '../../ports/retraining-jobs.js';
import type { Versioned } from '../../ports/retraining-store.js';
import { announce, type Phase } from './notices.js';
import { registerJobOutput } from './register.js';
import { RUNNING_STATUSES, settle, type RetrainDeps } from './retrain.js';

export interface FollowDeps extends RetrainDeps {
  readonly ledger: Pick<Ledger, 'markDirty'>;
  /**
   * Where a completed job's output is registered as a model version (contracts.md §16), under the
   * job's name as its version: one version per job, the same on every retry. Absent: not registered.
   */
  readonly registry?: ModelRegistry;
  /** How many follows try a registration before it is recorded as not registered. Default 5. */
  readonly registrationAttempts?: number;
  /** How long a slot may be held with no job record before it is given back. Default 15 min. */
  readonly abandonAfterMs?: number;
}

export interface FollowOutcome {
  /** Jobs read from Azure ML. */
  readonly followed: number;
  /** Jobs seen to end by this follow, by name. */
  readonly ended: readonly string[];
  /** Jobs Azure ML could not be asked about this time (they are followed next time). */
  readonly unreachable: readonly string[];
  /** Slots given back because their job was never recorded. */
  readonly abandoned: readonly string[];
  /** Completed jobs whose output this follow registered (or found registered), by name. */
  readonly registered: readonly string[];
  /** Completed jobs this follow recorded as not registered for good, by name. */
  readonly notRegistered: readonly string[];
}

const DONE = ['Refused'];

export async function followJobs(deps: FollowDeps): Promise<FollowOutcome> {
  const ended: string[] = [];
  const unreachable: string[] = [];
  const registrations: Registrations = { registered: [], notRegistered: [] };
  let followed = 0;
  const records = await deps.store.jobs();
  for (const record of records) {
    if (DONE.includes(record.status)) continue;
    if (record.endedAt !== undefined) {
      await retryRegistration(record, deps, registrations);
      continue;
    }
    const current = await deps.store.job(record.name);
    if (current === undefined) continue;
    try {
      followed += 1;
      const settled = await settle(current, deps);
      if (settled.value.status === 'Submitting') {
        unreachable.push(record.name);
        continue;
      }
      if (settled.value.status === 'Refused') continue;
      const state = await deps.jobs.get(record.name);
      if (state === undefined) {
        deps.log(`retraining: job ${record.name} is recorded but Azure ML has no job of that name`);
        continue;
      }
      if (await observe(settled, state, deps, registrations)) ended.push(record.name);
    } catch (error) {
      if (!(error instanceof TransientError)) throw error;
      unreachable.push(record.name);
      deps.log(`retraining: cannot read job ${record.name} now: ${error.message}`);
    }
  }
  const abandoned = await abandonUnrecorded(records, deps);
  return { followed, ended, unreachable, abandoned, ...registrations };
}

interface Registrations {
  readonly registered: string[];
  readonly notRegistered: string[];
}

/** Records what Azure ML says of the job; true when this call saw it end. */
async function observe(
  current: Versioned<JobRecord>,
  state: JobState,
  deps: FollowDeps,
  registrations: Registrations,
): Promise<boolean> {
  const now = deps.now().toISOString();
  const r = current.value;
  const running = RUNNING_STATUSES.includes(state.status);
  let runningSince = r.runningSince ?? (running ? now : undefined);
  if (!state.terminal) {
    if (state.status === r.status && runningSince === r.runningSince) return false;
    const next = { ...r, status: state.status, ...(runningSince === undefined ? {} : { runningSince }) };
    await deps.store.putJob(next, current.version);
    return false;
  }
  const endedAt = state.lastModifiedAt ?? now;
  // A job that completed between two follows ran; its start is known only as its creation.
  if (runningSince === undefined && state.status === 'Completed')
    runningSince = state.createdAt ?? r.decidedAt;
  const charge =
    runningSince === undefined || Date.parse(endedAt) <= Date.parse(runningSince)
      ? { gpuSeconds: 0, microUsd: 0 }
      : costOfRun(
          deps.prices,
          r.gpuSku,
          r.instanceCount * r.gpusPerInstance,
          Date.parse(runningSince) * 1000,
          Date.parse(endedAt) * 1000,
        );
  const ended: JobRecord = {
    ...r,
    status: state.status,
    endedAt,
    ...(runningSince === undefined ? {} : { runningSince }),
    gpuSeconds: charge.gpuSeconds,
    costMicroUsd: charge.microUsd,
  };
  // Days first: a crash after this leaves the record unended, and the next follow does it all again.
  if (runningSince !== undefined) await deps.ledger.markDirty(daysBetween(runningSince, endedAt), now);
  if ((await deps.store.putJob(ended, current.version)) === 'conflict') return false;
  await releaseSlot(ended, deps);
  const stored = (await deps.store.job(ended.name)) ?? { value: ended, version: undefined };
  const announced = await announce(
    stored,
    phaseOf(state.status),
    (rec) => jobEndedMessage(rec, deps.context),
    deps,
  );
  if (state.status === 'Completed') await registerOutput(announced, state, deps, registrations);
  return true;
}

/** A completed job, ended on an earlier follow, whose registration failed and is still due. */
async function retryRegistration(
  record: JobRecord,
  deps: FollowDeps,
  registrations: Registrations,
): Promise<void> {
  if (deps.registry === undefined || record.status !== 'Completed') return;
  if (!registrationDue(record.registration)) return;
  const current = await deps.store.job(record.name);
  if (current === undefined || !registrationDue(current.value.registration)) return;
  await registerOutput(current, undefined, deps, registrations);
}

/**
 * One try at registering the job's output as `<model>` version `<job name>`, recorded on the job
 * record. `state` is the job as just read from Azure ML; a retry reads it again.
 */
async function registerOutput(
  current: Versioned<JobRecord>,
  state: JobState | undefined,
  deps: FollowDeps,
  registrations: Registrations,
): Promise<void> {
  const registry = deps.registry;
  if (registry === undefined) return;
  const r = current.value;
  const tried = await tryRegistration(registry, state, r, deps);
  const registration = nextRegistration(
    r.registration,
    r.name,
    tried,
    deps.now().toISOString(),
    deps.registrationAttempts,
  );
  const next: JobRecord = { ...r, registration };
  // Another follower wrote the record first: it tried too, and the next follow reads what it found.
  if ((await deps.store.putJob(next, current.version)) === 'conflict') return;
  if (registration.state === 'registered') {
    registrations.registered.push(r.name);
    deps.log(
      `retraining: job ${r.name} registered as ${r.model} version ${registration.version}` +
        (registration.attempts > 1 ? ` (attempt ${registration.attempts})` : ''),
    );
    return;
  }
  if (registration.state === 'pending') {
    deps.log(
      `retraining: job ${r.name} completed but its model could not be registered now (attempt ${registration.attempts}); tried again on the next follow: ${registration.reason ?? ''}`,
    );
    return;
  }
  registrations.notRegistered.push(r.name);
  deps.log(`retraining: job ${r.name} not registered: ${registration.reason ?? ''}`);
  const stored = (await deps.store.job(r.name)) ?? { value: next, version: undefined };
  await announce(stored, 'unregistered', (rec) => notRegisteredMessage(rec, deps.context), deps);
}

async function tryRegistration(
  registry: ModelRegistry,
  state: JobState | undefined,
  r: JobRecord,
  deps: FollowDeps,
): Promise<RegistrationTry> {
  try {
    const job = state ?? (await deps.jobs.get(r.name));
    if (job === undefined) return { kind: 'retry', reason: `Azure ML has no job ${r.name}` };
    const outcome = await registerJobOutput(registry, job, r.model, r.name);
    return outcome.registered === null ? { kind: 'refused', reason: outcome.reason } : { kind: 'registered' };
  } catch (error) {
    // Transient or not (a 409 that clears, a token that is renewed), another try is cheap and bounded.
    if (!(error instanceof Error)) throw error;
    return { kind: 'retry', reason: error.message };
  }
}

async function releaseSlot(record: JobRecord, deps: FollowDeps): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const { value: state, version } = await deps.store.state();
    const next = release(state, {
      model: record.model,
      job: record.name,
      endedAt: record.endedAt ?? deps.now().toISOString(),
      month: monthOf(new Date(record.decidedAt)),
      estimateMicroUsd: record.estimatedMicroUsd,
      costMicroUsd: record.costMicroUsd ?? 0,
    });
    if ((await deps.store.putState(next, version)) === 'written') return;
  }
  throw new TransientError(
    `retraining: could not release the slot of ${record.name}; the shared state kept changing`,
  );
}

/** Slots held by a job with no record after the grace period: the run that claimed it died before writing it. */
async function abandonUnrecorded(records: readonly JobRecord[], deps: FollowDeps): Promise<string[]> {
  const graceMs = deps.abandonAfterMs ?? 15 * 60_000;
  const names = new Set(records.map((r) => r.name));
  const abandoned: string[] = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    const { value: state, version } = await deps.store.state();
    let next = state;
    const now = deps.now().getTime();
    for (const [model, slot] of Object.entries(state.models)) {
      if (slot.endedAt !== undefined || names.has(slot.job) || now - Date.parse(slot.since) < graceMs)
        continue;
      if ((await deps.store.job(slot.job)) !== undefined) continue;
      next = abandon(next, model, slot.job);
      abandoned.push(slot.job);
    }
    if (next === state || (await deps.store.putState(next, version)) === 'written') return abandoned;
    abandoned.length = 0;
  }
  return [];
}

function phaseOf(status: string): Phase {
  return status === 'Completed' ? 'completed' : status === 'Canceled' ? 'canceled' : 'failed';
}

function daysBetween(startIso: string, endIso: string): string[] {
  const days: string[] = [];
  const end = Date.parse(endIso);
  for (let t = Date.parse(startIso); ; t += 86_400_000) {
    const day = dayOfMs(Math.min(t, end));
    if (!days.includes(day)) days.push(day);
    if (t >= end) break;
  }
  const last = dayOfMs(end);
  if (!days.includes(last)) days.push(last);
  return days;
}
