/**
 * Delivers a run's messages through the outbox: what earlier runs could not send goes first, oldest
 * first, then this run's messages. The first failure stops sending for this run (the receiver is
 * down or throttling; more posts would fail too and could overtake older ones): that message and
 * every later one wait in the outbox for the next run.
 */
import type { KeyedMessage, TeamsMessage } from '../../domain/drift/card.js';
import type { Notifier } from '../../ports/notifier.js';
import type { ClaimedEntry, Outbox } from '../../ports/outbox.js';

export interface DeliveryOptions {
  readonly notifier: Notifier;
  readonly outbox: Outbox;
  readonly now: () => Date;
  /** How long a claimed entry is held; longer than a post with all its retries. Default 5 min. */
  readonly leaseMs?: number;
  /** Runs an entry may fail in before it is dropped (and reported), so one bad card cannot block the rest forever. Default 8. */
  readonly maxAttempts?: number;
}

export interface DeliveryResult {
  /** Keys delivered by this run, outbox entries first. */
  readonly sent: readonly string[];
  /** Keys of this run's messages now waiting in the outbox. */
  readonly queued: readonly string[];
  /** Outbox keys given up on after `maxAttempts` failed runs. */
  readonly dropped: readonly string[];
  /** Why sending stopped, when it did. */
  readonly error?: string;
}

const NOT_TRIED = 'not tried: an earlier post of the same run failed';

export async function deliver(
  messages: readonly KeyedMessage[],
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const sent: string[] = [];
  const queued: string[] = [];
  const dropped: string[] = [];
  let error = await drainOutbox(options, sent, dropped);
  for (const { key, message } of messages) {
    // The same message waited from an earlier run of the day and has just gone out of the outbox.
    if (sent.includes(key)) continue;
    let reason = NOT_TRIED;
    if (error === undefined) {
      error = await attempt(options.notifier, message);
      if (error === undefined) {
        sent.push(key);
        continue;
      }
      reason = error;
    }
    // add() is false when the same message already waits (an earlier run of the day failed on it).
    await options.outbox.add({
      key,
      body: JSON.stringify(message),
      enqueuedAt: options.now().toISOString(),
      lastError: reason,
    });
    queued.push(key);
  }
  return error === undefined ? { sent, queued, dropped } : { sent, queued, dropped, error };
}

/** Sends the outbox one claimed entry at a time, oldest first, until it is empty or a post fails. */
async function drainOutbox(
  options: DeliveryOptions,
  sent: string[],
  dropped: string[],
): Promise<string | undefined> {
  const leaseMs = options.leaseMs ?? 5 * 60_000;
  const maxAttempts = options.maxAttempts ?? 8;
  for (;;) {
    const [entry] = await options.outbox.claim(options.now(), leaseMs, 1);
    if (entry === undefined) return undefined;
    const error = await attempt(options.notifier, JSON.parse(entry.body) as TeamsMessage);
    if (error === undefined) {
      await options.outbox.remove(entry);
      sent.push(entry.key);
      continue;
    }
    await giveBack(options.outbox, entry, error, maxAttempts, dropped);
    return error;
  }
}

async function giveBack(
  outbox: Outbox,
  entry: ClaimedEntry,
  error: string,
  maxAttempts: number,
  dropped: string[],
): Promise<void> {
  if (entry.attempts + 1 >= maxAttempts) {
    if (await outbox.remove(entry)) dropped.push(entry.key);
  } else {
    await outbox.release(entry, error);
  }
}

/** Undefined when delivered; the reason otherwise (the notifier's errors never hold the URL). */
async function attempt(notifier: Notifier, message: TeamsMessage): Promise<string | undefined> {
  try {
    await notifier.post(message);
    return undefined;
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
}
