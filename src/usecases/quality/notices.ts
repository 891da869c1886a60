/**
 * Posting retraining notices once per job and phase. The phase is first added to the job record's
 * `notified` list with a conditional write (the claim), and only the run whose write wins posts: a
 * redelivered event, the timer and a trigger running at once, or a retry make one post, not several.
 * A post that fails waits in the drift alerts' outbox and goes out with the next delivery.
 */
import type { TeamsMessage } from '../../domain/teams/message.js';
import type { JobRecord } from '../../domain/retrain/record.js';
import type { Notifier } from '../../ports/notifier.js';
import type { Outbox } from '../../ports/outbox.js';
import type { RetrainingStore, Versioned } from '../../ports/retraining-store.js';
import { deliver } from '../notify/deliver.js';

export interface NoticeDeps {
  readonly store: RetrainingStore;
  /** Undefined when no Teams webhook is configured: the claim is still made, nothing is posted. */
  readonly notifier: Notifier | undefined;
  readonly outbox: Outbox;
  readonly now: () => Date;
  readonly log: (message: string) => void;
}

export type Phase = 'submitted' | 'refused' | 'completed' | 'failed' | 'canceled' | 'unregistered';

/**
 * Posts `message` for (job, phase) unless it was posted before; returns the record as stored after
 * the claim (or the current one when another run holds the claim).
 */
export async function announce(
  current: Versioned<JobRecord>,
  phase: Phase,
  message: (record: JobRecord) => TeamsMessage,
  deps: NoticeDeps,
): Promise<Versioned<JobRecord>> {
  let read = current;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (read.value.notified.includes(phase)) return read;
    const claimed: JobRecord = { ...read.value, notified: [...read.value.notified, phase] };
    if ((await deps.store.putJob(claimed, read.version)) === 'written') {
      await post(`retraining/${claimed.name}/${phase}`, message(claimed), deps);
      return (await deps.store.job(claimed.name)) ?? { value: claimed, version: undefined };
    }
    const again = await deps.store.job(read.value.name);
    if (again === undefined) return read;
    read = again;
  }
  deps.log(
    `retraining: could not record the ${phase} notice of ${current.value.name}: the record kept changing`,
  );
  return read;
}

/** Posts one message through the outbox, keyed so that the outbox keeps one copy. */
export async function post(
  key: string,
  message: TeamsMessage,
  deps: Omit<NoticeDeps, 'store'>,
): Promise<void> {
  if (deps.notifier === undefined) {
    deps.log(`Teams is not configured: notice ${key} not posted`);
    return;
  }
  const result = await deliver([{ key, message }], {
    notifier: deps.notifier,
    outbox: deps.outbox,
    now: deps.now,
  });
  if (result.error !== undefined) deps.log(`notice ${key} waits in the outbox: ${result.error}`);
}
