/**
 * Messages that could not be delivered, kept until a later run delivers them.
 *
 * Delivery is claimed, not read: `claim` hands each entry to one caller for a lease, so two runs of
 * the same day (a retry, two instances) never both send it; `remove` with the claim deletes it only
 * while that claim still holds. An entry is sent at most once unless a run dies between the
 * receiver's acceptance and `remove`, when the lease runs out and it is sent again: Workflows
 * webhooks take no idempotency key, so that gap cannot be closed at this end.
 */

export interface NewOutboxEntry {
  /** Stable for the same message (day and alert): adding it twice keeps one entry. */
  readonly key: string;
  /** The exact JSON body to post. */
  readonly body: string;
  /** When it first failed (ISO 8601); entries are claimed oldest first. */
  readonly enqueuedAt: string;
  /** Why the last try failed, for a person reading the outbox. Never holds the URL. */
  readonly lastError: string;
}

export interface OutboxEntry extends NewOutboxEntry {
  /** Failed tries so far, the one that put it here included. */
  readonly attempts: number;
}

/** An entry handed to one caller until `leaseUntil`. */
export interface ClaimedEntry extends OutboxEntry {
  readonly claim: string;
}

export interface Outbox {
  /** Adds an entry; false (and no change) when one with the same key is already there. */
  add(entry: NewOutboxEntry): Promise<boolean>;
  /**
   * Claims up to `limit` entries that nobody holds (or whose lease has run out), oldest first by
   * `enqueuedAt` then key, for `leaseMs` from `now`.
   */
  claim(now: Date, leaseMs: number, limit: number): Promise<ClaimedEntry[]>;
  /** Deletes a delivered entry; false when the claim was lost (the lease ran out and was taken). */
  remove(entry: ClaimedEntry): Promise<boolean>;
  /** Gives an undelivered entry back at once, counting the failed try; false when the claim was lost. */
  release(entry: ClaimedEntry, error: string): Promise<boolean>;
  /** Every entry, oldest first: for operators and tests. */
  list(): Promise<OutboxEntry[]>;
}

export function oldestFirst(a: NewOutboxEntry, b: NewOutboxEntry): number {
  if (a.enqueuedAt !== b.enqueuedAt) return a.enqueuedAt < b.enqueuedAt ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
