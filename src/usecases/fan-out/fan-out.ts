/**
 * The fan-out engine: a job's units run one queue message each, on any number of workers, and the
 * fan-in of each round is completed once (see src/ports/fan-out.ts for what the store guarantees).
 *
 * Delivery is at least once and a worker may die anywhere, so every step is either idempotent or a
 * conditional write of the job's record:
 * - a unit whose result is stored is not run again; two runs at once store the first result;
 * - the worker that sees a round complete claims its fan-in (running -> fanning-in); of two, one wins;
 * - before each claim, and at the start of a job, a fan-in message is sent to arrive after the lease:
 *   it takes over a claim that lapsed (its holder died), waits again for one still renewed, and sends
 *   again a round whose sends were cut short. So no crash leaves a job without a message to move it;
 * - the fan-in's result is committed under the claim's version, so it is committed once even when a
 *   lapsed holder and its successor both ran it; every message for a finished job is a no-op.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { PermanentError } from '../../domain/errors.js';
import type { Clock } from '../../ports/clock.js';
import type {
  FanInMessage,
  FanInResult,
  FanOutMessage,
  FanOutStore,
  JobRecord,
  Json,
  Round,
  StoredJob,
  UnitMessage,
  Work,
  WorkQueue,
} from '../../ports/fan-out.js';

export interface FanOutDeps {
  readonly store: FanOutStore;
  readonly queue: WorkQueue;
  readonly clock: Clock;
  /** How long a fan-in claim holds unrenewed; longer than any pause of a live worker. */
  readonly leaseMs: number;
  /** How often the holder renews its claim: a third of the lease unless given. */
  readonly renewEveryMs?: number;
  /** Fan-in attempts of one round (failed or lapsed) before the job is parked as failed: 5 unless given. */
  readonly maxFanIns?: number;
  readonly newToken?: () => string;
}

/** Where the engine reports; an InvocationContext is one. */
export interface FanOutLog {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type HandledKind =
  | 'round-incomplete'
  | 'completed'
  | 'next-round'
  | 'fan-in-held'
  | 'claim-lost'
  | 'lease-lost'
  | 'fan-in-failed'
  | 'unit-failed'
  | 'resent'
  | 'job-done'
  | 'job-failed'
  | 'round-over'
  | 'no-job';

/** What handling one message did, for the logs and tests. */
export interface Handled {
  readonly kind: HandledKind;
  /** For a unit message: whether this delivery ran the unit or found its result stored. */
  readonly unit?: 'ran' | 'had-result';
  readonly detail: string;
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
// Unit ids name blobs (encoded, under 1,024 characters with their prefix) and must survive UTF-8.
const MAX_UNIT_ID = 200;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_ERROR = 2000;

const jobId = z.string().regex(JOB_ID, 'a job id is 1-100 letters, digits, ".", "_" or "-"');
const roundIndex = z.number().int().nonnegative();
const messageSchema = z.union([
  z.strictObject({ job: jobId, round: roundIndex, unit: z.string().min(1).max(MAX_UNIT_ID) }),
  z.strictObject({ job: jobId, round: roundIndex, fanIn: z.literal(true) }),
]);

/** A queue message as the Functions trigger hands it over (parsed JSON, or text), checked. */
export function parseFanOutMessage(message: unknown): FanOutMessage {
  let value = message;
  if (typeof message === 'string') {
    try {
      value = JSON.parse(message);
    } catch {
      throw new PermanentError(`fan-out message is not JSON: ${message.slice(0, 80)}`);
    }
  }
  const parsed = messageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentError(
      `fan-out message: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Throws PermanentError unless `units` can be a round: 1 or more distinct ids of 1-200 characters of text. */
export function checkUnits(units: readonly string[]): void {
  if (units.length === 0) throw new PermanentError('a round has at least one unit');
  const bad = units.find((u) => u.length === 0 || u.length > MAX_UNIT_ID || LONE_SURROGATE.test(u));
  if (bad !== undefined)
    throw new PermanentError(`unit id must be 1-${MAX_UNIT_ID} characters of text: "${bad.slice(0, 40)}"`);
  if (new Set(units).size !== units.length) throw new PermanentError('a round lists a unit twice');
}

/**
 * Starts a job: stores its plan and first round and sends one message per unit. Idempotent: for a
 * job id that exists it sends nothing (`exists`), unless the first start died before its sends
 * ended, when it sends the round again (`resent`; duplicates are harmless).
 */
export async function startJob(
  deps: FanOutDeps,
  job: string,
  plan: Json,
  units: readonly string[],
  context?: Json,
): Promise<'started' | 'resent' | 'exists'> {
  if (!JOB_ID.test(job))
    throw new PermanentError(`job id "${job.slice(0, 40)}" is not 1-100 of [A-Za-z0-9._-]`);
  checkUnits(units);
  const found = await deps.store.job(job);
  if (found !== undefined) return (await resendUnsent(deps, found, job)) ? 'resent' : 'exists';
  // Sent first, so that a start that dies after creating the job is finished by this message.
  await deps.queue.send([{ job, round: 0, fanIn: true }], deps.leaseMs);
  const now = deps.clock().toISOString();
  const record: JobRecord = {
    phase: 'running',
    round: 0,
    sent: false,
    fanIns: 0,
    startedAt: now,
    updatedAt: now,
  };
  const spec = context === undefined ? { units } : { units, context };
  const version = await deps.store.create(job, plan, spec, record);
  if (version === undefined) {
    const raced = await deps.store.job(job);
    return raced !== undefined && (await resendUnsent(deps, raced, job)) ? 'resent' : 'exists';
  }
  await sendRound(deps, job, { record, version }, units);
  return 'started';
}

/**
 * The queue trigger's handler, `(message, context) => Promise<void>` as a Functions registration
 * takes it. A unit's or the fan-in's failure throws, so the host delivers the message again.
 */
export function makeFanOutHandler(deps: () => Promise<FanOutDeps>, work: Work) {
  return async function fanOut(message: unknown, context: FanOutLog): Promise<void> {
    const parsed = parseFanOutMessage(message);
    const handled = await handleFanOutMessage(await deps(), work, parsed, context);
    context.log(
      `fanOut: ${handled.unit === undefined ? '' : `unit ${handled.unit}; `}${handled.kind}: ${handled.detail}`,
    );
  };
}

/** Handles one message of either kind. */
export async function handleFanOutMessage(
  deps: FanOutDeps,
  work: Work,
  message: FanOutMessage,
  log: FanOutLog,
): Promise<Handled> {
  return 'unit' in message
    ? handleUnitMessage(deps, work, message, log)
    : handleFanInMessage(deps, work, message, log);
}

/** Runs the unit unless its result is stored, stores the result, then fans in if the round is complete. */
export async function handleUnitMessage(
  deps: FanOutDeps,
  work: Work,
  message: UnitMessage,
  log: FanOutLog,
): Promise<Handled> {
  const stored = await deps.store.job(message.job);
  if (stored === undefined) throw new PermanentError(`fan-out job ${message.job} does not exist`);
  const over = finished(stored.record, message);
  if (over !== undefined) return over;
  const round = await roundOf(deps, message.job, message.round);
  if (!round.units.includes(message.unit))
    throw new PermanentError(`unit "${message.unit}" is not in round ${message.round} of ${message.job}`);
  let unit: 'ran' | 'had-result' = 'had-result';
  if (!(await deps.store.hasResult(message.job, message.round, message.unit))) {
    let result: Json;
    try {
      result = await work.runUnit(await deps.store.plan(message.job), round, message.unit);
    } catch (error) {
      // A unit that can never succeed would keep its round from completing: the job fails with it.
      if (!(error instanceof PermanentError)) throw error;
      return parkUnit(deps, message, String(error).slice(0, MAX_ERROR), log);
    }
    // First write wins: a second run of the unit at the same time keeps the first result.
    await deps.store.putResult(message.job, message.round, message.unit, result);
    unit = 'ran';
  }
  return { ...(await tryFanIn(deps, work, round, log)), unit };
}

/** Takes over a lapsed fan-in claim, waits again for a renewed one, or sends a round cut short. */
export async function handleFanInMessage(
  deps: FanOutDeps,
  work: Work,
  message: FanInMessage,
  log: FanOutLog,
): Promise<Handled> {
  const stored = await deps.store.job(message.job);
  // A start that died before creating its job leaves its fan-in message and nothing else.
  if (stored === undefined) return { kind: 'no-job', detail: `no job ${message.job}: nothing to do` };
  const { record } = stored;
  if (record.phase === 'running' && !record.sent && record.round >= message.round) {
    await resendUnsent(deps, stored, message.job);
    return { kind: 'resent', detail: `round ${record.round}'s messages were sent again` };
  }
  const over = finished(record, message);
  if (over !== undefined) return over;
  const until = record.claim === undefined ? 0 : Date.parse(record.claim.until);
  const left = until - deps.clock().getTime();
  if (record.phase === 'fanning-in' && left > 0) {
    await deps.queue.send([message], left);
    return { kind: 'fan-in-held', detail: `claim ${record.claim?.token} holds until ${record.claim?.until}` };
  }
  return tryFanIn(deps, work, await roundOf(deps, message.job, message.round), log);
}

/** The no-op answer for a message of a job that is over, or of a round already fanned in. */
function finished(record: JobRecord, message: FanOutMessage): Handled | undefined {
  const what = `${message.job} round ${message.round}${'unit' in message ? ` unit ${message.unit}` : ' fan-in'}`;
  if (record.phase === 'done')
    return { kind: 'job-done', detail: `${what}: the job is done (outcome committed): nothing to do` };
  if (record.phase === 'failed')
    return { kind: 'job-failed', detail: `${what}: the job failed (${record.error ?? ''}): nothing to do` };
  if (record.round > message.round)
    return { kind: 'round-over', detail: `${what}: the job is at round ${record.round}: nothing to do` };
  // Round r + 1's messages are sent after its commit, and the record is read after it.
  if (record.round < message.round)
    throw new PermanentError(`${what}: the job is only at round ${record.round}`);
  return undefined;
}

async function roundOf(deps: FanOutDeps, job: string, index: number): Promise<Round> {
  return { job, index, ...(await deps.store.round(job, index)) };
}

/** Claims and runs the fan-in if every unit of the round has a result and no live claim holds it. */
async function tryFanIn(deps: FanOutDeps, work: Work, round: Round, log: FanOutLog): Promise<Handled> {
  const have = new Set(await deps.store.resultUnits(round.job, round.index));
  const missing = round.units.filter((u) => !have.has(u)).length;
  if (missing > 0)
    return {
      kind: 'round-incomplete',
      detail: `round ${round.index}: ${missing} of ${round.units.length} units to go`,
    };
  const stored = await deps.store.job(round.job);
  if (stored === undefined) throw new PermanentError(`fan-out job ${round.job} does not exist`);
  const over = finished(stored.record, { job: round.job, round: round.index, fanIn: true });
  if (over !== undefined) return over;
  const { record } = stored;
  const now = deps.clock();
  if (
    record.phase === 'fanning-in' &&
    record.claim !== undefined &&
    Date.parse(record.claim.until) > now.getTime()
  )
    return {
      kind: 'fan-in-held',
      detail: `round ${round.index}: claim ${record.claim.token} holds until ${record.claim.until}`,
    };
  if (record.fanIns >= (deps.maxFanIns ?? 5)) {
    const reason = `the fan-in of round ${round.index} was tried ${record.fanIns} times: last error: ${record.error ?? 'its worker stopped'}`;
    return park(deps, round, stored, reason, log);
  }
  // Sent before the claim: whoever wins it, and whatever becomes of the winner, this comes back.
  await deps.queue.send([{ job: round.job, round: round.index, fanIn: true }], deps.leaseMs);
  const token = (deps.newToken ?? randomUUID)();
  const claimed: JobRecord = {
    ...withoutClaim(record),
    phase: 'fanning-in',
    sent: true,
    claim: { token, until: new Date(now.getTime() + deps.leaseMs).toISOString() },
    fanIns: record.fanIns + 1,
    updatedAt: now.toISOString(),
  };
  const version = await deps.store.update(round.job, stored.version, claimed);
  if (version === undefined)
    return { kind: 'claim-lost', detail: `round ${round.index}: another worker claimed the fan-in first` };
  if (record.phase === 'fanning-in')
    log.warn(`fan-out ${round.job}: took over the lapsed fan-in of round ${round.index}`);
  return fanIn(deps, work, round, { record: claimed, version }, log);
}

async function fanIn(
  deps: FanOutDeps,
  work: Work,
  round: Round,
  claim: StoredJob,
  log: FanOutLog,
): Promise<Handled> {
  const lease = new FanInLease(deps, round.job, claim);
  let end: FanInResult;
  try {
    const [plan, stored] = await Promise.all([
      deps.store.plan(round.job),
      deps.store.results(round.job, round.index),
    ]);
    // In the round's order, so that a fan-in run twice sees its input the same way both times.
    const results = new Map<string, Json>();
    for (const unit of round.units) {
      const result = stored.get(unit);
      if (result === undefined) throw new Error(`the result of unit "${unit}" is gone`);
      results.set(unit, result);
    }
    end = await work.fanIn(plan, round, results, lease.signal);
    if ('next' in end) checkUnits(end.next.units);
  } catch (error) {
    const held = await lease.stop();
    // Another worker holds the fan-in now: this delivery is done, whatever the abort made fanIn throw.
    if (held === undefined) return lostLease(round);
    const reason = String(error).slice(0, MAX_ERROR);
    if (error instanceof PermanentError || held.record.fanIns >= (deps.maxFanIns ?? 5))
      return park(deps, round, held, reason, log);
    const released: JobRecord = {
      ...withoutClaim(held.record),
      phase: 'running',
      error: reason,
      updatedAt: now(deps),
    };
    await deps.store.update(round.job, held.version, released);
    throw error;
  }
  const held = await lease.stop();
  const lost = lostLease(round);
  if (held === undefined) return lost;
  const base = { ...withoutClaim(held.record), error: undefined, updatedAt: now(deps) };
  if ('done' in end) {
    const done: JobRecord = { ...base, phase: 'done' };
    const committed = await deps.store.commit(round.job, held.version, done, { outcome: end.done });
    return committed === undefined
      ? lost
      : { kind: 'completed', detail: `round ${round.index}: outcome committed` };
  }
  const next: JobRecord = { ...base, phase: 'running', round: round.index + 1, sent: false, fanIns: 0 };
  const version = await deps.store.commit(round.job, held.version, next, { next: end.next });
  if (version === undefined) return lost;
  await sendRound(deps, round.job, { record: next, version }, end.next.units);
  return { kind: 'next-round', detail: `round ${round.index + 1} of ${end.next.units.length} units sent` };
}

async function park(
  deps: FanOutDeps,
  round: Round,
  held: StoredJob,
  reason: string,
  log: FanOutLog,
): Promise<Handled> {
  const failed: JobRecord = {
    ...withoutClaim(held.record),
    phase: 'failed',
    error: reason,
    updatedAt: now(deps),
  };
  if ((await deps.store.update(round.job, held.version, failed)) === undefined)
    return { kind: 'claim-lost', detail: `round ${round.index}: another worker moved the job first` };
  log.error(`fan-out ${round.job}: failed for good: ${reason}`);
  return { kind: 'fan-in-failed', detail: reason };
}

/** Parks the job as failed for a unit's permanent error, read again on a conflict (a sent round marked). */
async function parkUnit(
  deps: FanOutDeps,
  message: UnitMessage,
  error: string,
  log: FanOutLog,
): Promise<Handled> {
  const reason = `unit "${message.unit}" of round ${message.round}: ${error}`;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const stored = await deps.store.job(message.job);
    if (stored === undefined) break;
    const over = finished(stored.record, message);
    if (over !== undefined) return over;
    const failed: JobRecord = {
      ...withoutClaim(stored.record),
      phase: 'failed',
      error: reason,
      updatedAt: now(deps),
    };
    if ((await deps.store.update(message.job, stored.version, failed)) !== undefined) {
      log.error(`fan-out ${message.job}: failed for good: ${reason}`);
      return { kind: 'unit-failed', unit: 'ran', detail: reason };
    }
  }
  throw new Error(`fan-out ${message.job}: could not record the failure of ${reason}`);
}

function lostLease(round: Round): Handled {
  return {
    kind: 'lease-lost',
    detail: `round ${round.index}: the fan-in's lease was taken over; its result is discarded`,
  };
}

/** Sends every unit message of the record's round, then marks it sent (unless the record moved on). */
async function sendRound(
  deps: FanOutDeps,
  job: string,
  stored: StoredJob,
  units: readonly string[],
): Promise<void> {
  const round = stored.record.round;
  await deps.queue.send(units.map((unit) => ({ job, round, unit })));
  // A conflict means a unit already finished the round or another sender marked it: either way sent.
  await deps.store.update(job, stored.version, { ...stored.record, sent: true, updatedAt: now(deps) });
}

/** Sends the current round again if its first sends may have been cut short; true when it did. */
async function resendUnsent(deps: FanOutDeps, stored: StoredJob, job: string): Promise<boolean> {
  if (stored.record.phase !== 'running' || stored.record.sent) return false;
  const spec = await deps.store.round(job, stored.record.round);
  await sendRound(deps, job, stored, spec.units);
  return true;
}

function withoutClaim(record: JobRecord): JobRecord {
  const { claim: _claim, ...rest } = record;
  return rest;
}

const now = (deps: FanOutDeps): string => deps.clock().toISOString();

/** The claim of a running fan-in, renewed until stopped; its signal aborts when another worker took it. */
class FanInLease {
  private held: StoredJob | undefined;
  private renewals: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;

  constructor(
    private readonly deps: FanOutDeps,
    private readonly job: string,
    claim: StoredJob,
  ) {
    this.held = claim;
    // Chained, so that a renewal never overlaps another or the commit that follows stop().
    this.timer = setInterval(
      () => {
        this.renewals = this.renewals.then(() => this.renew());
      },
      deps.renewEveryMs ?? deps.leaseMs / 3,
    );
    this.timer.unref(); // a fan-in abandoned by its caller never keeps the process alive
  }

  /** Stops renewing: the claim as last written, or undefined when another worker took it. */
  async stop(): Promise<StoredJob | undefined> {
    clearInterval(this.timer);
    await this.renewals;
    return this.held;
  }

  private async renew(): Promise<void> {
    const held = this.held;
    if (held?.record.claim === undefined) return;
    const at = this.deps.clock();
    const until = new Date(at.getTime() + this.deps.leaseMs).toISOString();
    const record = { ...held.record, claim: { ...held.record.claim, until }, updatedAt: at.toISOString() };
    try {
      const version = await this.deps.store.update(this.job, held.version, record);
      if (version !== undefined) this.held = { record, version };
      else {
        this.held = undefined;
        this.controller.abort(new Error(`fan-out ${this.job}: the fan-in's lease was taken over`));
      }
    } catch {
      // Tried again at the next tick; the claim holds until its expiry meanwhile. (A renewal that
      // failed after the store applied it makes the commit lose: the fan-in then runs again.)
    }
  }
}
