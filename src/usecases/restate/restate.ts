import { z } from 'zod';
import { PermanentError } from '../../domain/errors.js';
import { parseDay } from '../../domain/days.js';
import type { DayMessage, DayQueue } from '../../ports/day-queue.js';
import type { Ledger } from '../../ports/ledger.js';

/** The most days one request may restate: a year and a bit, as RESTATE_DAYS allows at most. */
export const MAX_RESTATE_DAYS = 400;

export interface RestateDeps {
  readonly ledger: Ledger;
  readonly dayQueue: DayQueue;
  readonly now: () => Date;
}

/** A request that cannot be honoured, with the reason (the CLI exits 2, the endpoint answers 400). */
export class RestateRequestError extends Error {
  override readonly name = 'RestateRequestError';
}

/**
 * Every day from `from` to `to` (inclusive), checked: calendar days, in order, over (today is never
 * reported) and at most MAX_RESTATE_DAYS of them.
 */
export function restateRange(from: string, to: string | undefined, now: Date): string[] {
  const start = parseDay(from);
  if (start === undefined)
    throw new RestateRequestError(`date must be a calendar day YYYY-MM-DD, got "${from.slice(0, 40)}"`);
  const last = to ?? from;
  if (parseDay(last) === undefined)
    throw new RestateRequestError(`to must be a calendar day YYYY-MM-DD, got "${last.slice(0, 40)}"`);
  if (last < from) throw new RestateRequestError(`to (${last}) is before date (${from})`);
  const today = now.toISOString().slice(0, 10);
  if (last >= today)
    throw new RestateRequestError(
      `${last} is not over yet (today is ${today} UTC): only past days are reported`,
    );
  const days: string[] = [];
  for (
    let day = from;
    day <= last;
    day = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
  ) {
    days.push(day);
    if (days.length > MAX_RESTATE_DAYS)
      throw new RestateRequestError(`at most ${MAX_RESTATE_DAYS} days at once`);
  }
  return days;
}

/**
 * Restates days on demand (after a late backfill, a replay of dead letters, a policy change): marks
 * them dirty, then queues one message per day for `reportDay`. Marking first means a failure to
 * queue is repaired by the next daily run (for days within RESTATE_DAYS); a day whose ledger has not
 * changed is computed again and keeps its revision (see reportDay).
 */
export async function requestRestatement(
  days: readonly string[],
  deps: RestateDeps,
  options: { readonly refit?: boolean } = {},
): Promise<DayMessage[]> {
  const requestedAt = deps.now().toISOString();
  await deps.ledger.markDirty(days, requestedAt);
  const messages = days.map((day): DayMessage => ({
    day,
    reason: 'on-demand',
    requestedAt,
    ...(options.refit === true ? { refit: true as const } : {}),
  }));
  await deps.dayQueue.enqueue(messages);
  return messages;
}

const dayMessageSchema = z.object({
  day: z.string().refine((d) => parseDay(d) !== undefined, 'must be a calendar day YYYY-MM-DD'),
  reason: z.enum(['yesterday', 'late-events', 'price-change', 'on-demand']),
  requestedAt: z.string(),
  refit: z.literal(true).optional(),
});

/**
 * A day message as the queue trigger delivers it: the host hands over JSON already parsed, other
 * text as a string. A message that is not a day message is a PermanentError (it ends in the poison
 * queue after its retries, where an operator can read it).
 */
export function parseDayMessage(message: unknown): DayMessage {
  let value = message;
  if (typeof message === 'string') {
    try {
      value = JSON.parse(message);
    } catch {
      throw new PermanentError(`day message is not JSON: ${message.slice(0, 80)}`);
    }
  }
  const parsed = dayMessageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentError(`day message: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
