/**
 * The alert store: one record per alert id (its current episode, see src/domain/drift/lifecycle.ts)
 * and one posting claim per alert, day and phase.
 *
 * Exactly one post per claim rests on two conditional writes. A record is replaced only if it is
 * still the version that was read, so two runs deciding from the same state cannot both move it
 * without one of them reading again. A claim is created only if absent, so of any number of runs of
 * one day (a retry, a restatement, two instances at once) exactly one wins the right to make a given
 * post; the others lose and post nothing, whatever figures they computed.
 */
import type { Day } from '../domain/days.js';
import type { AlertRecord, PostKind, PostPhase } from '../domain/drift/lifecycle.js';

export interface StoredAlert {
  readonly record: AlertRecord;
  /** Opaque version for the conditional write. */
  readonly version: string;
}

/** The right to make one post: created once per (day, id, phase), by the run that wins it. */
export interface PostClaim {
  readonly day: Day;
  readonly id: string;
  readonly phase: PostPhase;
  readonly kind: PostKind;
  /** Which run claimed it: for an operator reading the store. */
  readonly runId: string;
  readonly claimedAt: string;
}

/** `claimed` until the winner reports the post delivered or queued for a later run to send. */
export type ClaimStatus = 'claimed' | 'posted' | 'queued';

export interface ClaimInfo extends PostClaim {
  readonly status: ClaimStatus;
  readonly settledAt?: string;
}

export type WriteOutcome = 'written' | 'conflict';

export interface AlertStore {
  /** Every stored record, in no particular order (one per alert id ever raised: small). */
  records(): Promise<StoredAlert[]>;
  get(id: string): Promise<StoredAlert | undefined>;
  /** Stores the record if the stored one is still `expected` (undefined: only if there is none). */
  put(record: AlertRecord, expected: string | undefined): Promise<WriteOutcome>;
  /** Creates the claim if no claim for its (day, id, phase) exists: `won`, else `lost`. */
  claim(claim: PostClaim): Promise<'won' | 'lost'>;
  /** Records how a won claim ended; idempotent. */
  settle(
    key: Pick<PostClaim, 'day' | 'id' | 'phase'>,
    status: Exclude<ClaimStatus, 'claimed'>,
    at: string,
  ): Promise<void>;
  /** The claims of one day, in no particular order. */
  claims(day: Day): Promise<ClaimInfo[]>;
}
