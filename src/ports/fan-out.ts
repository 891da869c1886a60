/**
 * Fan-out of one job (one day's run) over many queue messages, and its fan-in, exactly once.
 *
 * A job has a plan (opaque JSON, possibly megabytes) and a sequence of rounds; a round is a list of
 * unit ids, one queue message each. A unit's result is stored under the (job, round, unit) it
 * answers, first write wins, so a redelivered or concurrently repeated unit adds nothing. When every
 * unit of a round has a result, one caller claims the fan-in by a conditional write of the job's
 * record; the claim is a lease, renewed while the fan-in runs and taken over once it lapses. The
 * fan-in ends the job (its outcome) or starts the next round, committed by a conditional write under
 * the claim, so of any number of fan-ins of one round exactly one is committed.
 *
 * The store keeps what a commit points to (plan, round specs, outcome) under fresh names written
 * before the record that names them: a writer that dies or loses leaves an unreferenced blob, never
 * a record pointing at half a write.
 */

/** Opaque JSON: what the work passes through the engine without the engine reading it. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/** What one round runs: its units, and what the fan-in that started it passed on. */
export interface RoundSpec {
  readonly units: readonly string[];
  readonly context?: Json;
}

/** A round as the work sees it. */
export interface Round extends RoundSpec {
  readonly job: string;
  /** 0 for the round the job started with, then 1, 2, ... */
  readonly index: number;
}

/** What a fan-in decides: the job's outcome, or one more round. */
export type FanInResult = { readonly done: Json } | { readonly next: RoundSpec };

/**
 * The computation a job fans out. Both methods may run more than once for the same input (a
 * redelivery, a worker killed after its side effects, a fan-in whose lease lapsed), so what they
 * write to their own storage must be safe to write again; the engine commits one result of each.
 */
export interface Work {
  /** Runs one unit; the result is small (a storage entity or blob well under 1 MB). */
  runUnit(plan: Json, round: Round, unit: string): Promise<Json>;
  /**
   * Combines a complete round. `signal` aborts when the lease was lost to another worker: what this
   * call returns then is discarded.
   */
  fanIn(
    plan: Json,
    round: Round,
    results: ReadonlyMap<string, Json>,
    signal: AbortSignal,
  ): Promise<FanInResult>;
}

/** One unit of one round to run. */
export interface UnitMessage {
  readonly job: string;
  readonly round: number;
  readonly unit: string;
}

/**
 * A look at a round's fan-in after its lease: takes a lapsed claim over, or sends a round whose
 * messages were cut short. Sent before every claim and at the start of a job.
 */
export interface FanInMessage {
  readonly job: string;
  readonly round: number;
  readonly fanIn: true;
}

export type FanOutMessage = UnitMessage | FanInMessage;

export interface WorkQueue {
  /** Sends the messages, each visible after `delayMs` (0: at once). A failure may leave some sent. */
  send(messages: readonly FanOutMessage[], delayMs?: number): Promise<void>;
}

/**
 * - `running`: units of `round` are being run;
 * - `fanning-in`: one worker holds the claim on the round's fan-in;
 * - `done`: the outcome is committed (final);
 * - `failed`: the fan-in failed for good, `error` says why (final).
 */
export type JobPhase = 'running' | 'fanning-in' | 'done' | 'failed';

export interface FanInClaim {
  /** Names the attempt, for the logs. */
  readonly token: string;
  /** ISO 8601: after this, another worker may take the fan-in over. */
  readonly until: string;
}

/** The job's state: small, replaced whole under its version. */
export interface JobRecord {
  readonly phase: JobPhase;
  /** The current round; for `done`, the last one. */
  readonly round: number;
  /** Every unit message of `round` was sent (false from its commit to the end of its sends). */
  readonly sent: boolean;
  /** Set in `fanning-in` only. */
  readonly claim?: FanInClaim;
  /** Fan-in attempts of `round` so far, lapsed and failed ones included. */
  readonly fanIns: number;
  /** The last fan-in error; the reason, when `failed`. */
  readonly error?: string;
  readonly startedAt: string;
  readonly updatedAt: string;
}

export interface StoredJob {
  readonly record: JobRecord;
  /** Opaque version for the conditional writes. */
  readonly version: string;
}

/** What a fan-in commits with the record: the next round (the record's `round`) or the outcome. */
export type FanInEnd = { readonly next: RoundSpec } | { readonly outcome: Json };

export interface FanOutStore {
  /**
   * Stores the plan, round 0 and the record unless the job exists: the record's version, or
   * undefined when the job exists (and nothing that counts was written).
   */
  create(job: string, plan: Json, first: RoundSpec, record: JobRecord): Promise<string | undefined>;
  job(job: string): Promise<StoredJob | undefined>;
  /** The plan of a job that exists. */
  plan(job: string): Promise<Json>;
  /** The spec of a committed round of a job that exists. */
  round(job: string, index: number): Promise<RoundSpec>;
  /** Stores a unit's result unless one is stored: first write wins. */
  putResult(job: string, round: number, unit: string, result: Json): Promise<'stored' | 'exists'>;
  hasResult(job: string, round: number, unit: string): Promise<boolean>;
  /** The units of a round that have a result, in no particular order. */
  resultUnits(job: string, round: number): Promise<string[]>;
  results(job: string, round: number): Promise<Map<string, Json>>;
  /**
   * Replaces the record if its version is still `expected`: the new version, or undefined when
   * another writer changed it first. Claims, renewals, releases and the mark of a sent round.
   */
  update(job: string, expected: string, record: JobRecord): Promise<string | undefined>;
  /** As `update`, storing what the fan-in produced with the record, both or neither. */
  commit(job: string, expected: string, record: JobRecord, end: FanInEnd): Promise<string | undefined>;
  /** The committed outcome; undefined until the job is done. */
  outcome(job: string): Promise<Json | undefined>;
}
