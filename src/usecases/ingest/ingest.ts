import { admissionProblem } from '../../domain/admission.js';
import { TransientError } from '../../domain/errors.js';
import { parseRecord } from '../../domain/fast-parse.js';
import type { PriceCard } from '../../domain/prices.js';
import type { BudgetsFile } from '../../domain/budgets/budgets.js';
import { estimateSpend } from '../../domain/budgets/estimate.js';
import type { BudgetSpendStore } from '../../ports/budget-spend.js';
import { spendAdditions, type EventSpend } from './budget-spend.js';
import { dayOf, dayStartMs, previousDay } from '../../domain/days.js';
import type { DeadLetter, HighWater, Ledger, SegmentDraft } from '../../ports/ledger.js';
import { notInLedger, regressionReason, restartDigest } from './below-mark.js';
import { deadLetterOf, errorText, messageText } from './message-body.js';

/** One Event Hubs message as the trigger hands it over, with where it sits in its partition. */
export interface DeliveredMessage {
  readonly body: unknown;
  readonly partition: string;
  readonly sequenceNumber: number;
  readonly enqueuedTime: string;
}

/** What became of a batch; read = accepted + rejected + duplicates, always. */
export interface IngestCounts {
  read: number;
  accepted: number;
  rejected: number;
  /**
   * Messages already in the ledger: repeats of a partition and sequence number within the batch,
   * and events at or below the mark whose eventId a segment covering those numbers holds.
   */
  duplicates: number;
  segments: number;
  /** Of `accepted`, events at or below their mark that the ledger did not hold: numbering went back. */
  keptBelowMark: number;
  /** One reason per (day, partition) whose numbering went back, naming the mark and the batch's range. */
  regressions: string[];
}

export interface IngestDeps {
  readonly ledger: Ledger;
  readonly prices: PriceCard;
  readonly now: () => Date;
  /** Spend budgets: each newly accepted usage event's estimated cost is added to its budgets' figures. */
  readonly budgets?: { readonly file: BudgetsFile; readonly spend: BudgetSpendStore };
}

interface Accepted {
  readonly sequenceNumber: number;
  readonly eventId: string;
  readonly line: string;
  readonly usage: boolean;
  readonly startMs: number;
  readonly endMs: number;
  readonly spend: EventSpend | undefined;
}

const MAX_COMMIT_ATTEMPTS = 8;

/**
 * Validates each message on its own, keeps the bad ones as dead letters with their reason, and
 * commits the good ones to the ledger exactly once (see ledger.ts). Safe to call again with the same
 * messages, or with batches cut differently: the ledger comes out the same.
 */
export async function ingestBatch(
  messages: readonly DeliveredMessage[],
  deps: IngestDeps,
): Promise<IngestCounts> {
  const counts: IngestCounts = {
    read: messages.length,
    accepted: 0,
    rejected: 0,
    duplicates: 0,
    segments: 0,
    keptBelowMark: 0,
    regressions: [],
  };
  const letters: DeadLetter[] = [];
  const groups = new Map<string, Accepted[]>(); // by partition and event day
  const seen = new Set<string>();
  for (const message of messages) {
    const id = `${message.partition}|${message.sequenceNumber}`;
    if (seen.has(id)) {
      counts.duplicates += 1;
      continue;
    }
    seen.add(id);
    const verdict = examineSafely(message.body, deps.prices);
    if (typeof verdict === 'string') {
      letters.push(deadLetterOf(message, verdict));
      continue;
    }
    const key = `${message.partition}\n${verdict.day}`;
    const group = groups.get(key) ?? [];
    group.push({ ...verdict, sequenceNumber: message.sequenceNumber });
    groups.set(key, group);
  }
  counts.rejected = letters.length;
  if (letters.length > 0) await deps.ledger.deadLetter(letters);

  const dirty = new Set<string>();
  for (const [key, events] of groups) {
    const day = key.slice(key.indexOf('\n') + 1);
    dirty.add(day);
    // A request that started the day before belongs partly to that day's cost (contracts.md §4.7).
    const startMs = dayStartMs(day);
    if (events.some((e) => e.startMs < startMs)) dirty.add(previousDay(day));
  }
  if (dirty.size > 0) await deps.ledger.markDirty([...dirty].sort(), deps.now().toISOString());

  for (const [key, events] of groups) {
    const split = key.indexOf('\n');
    const group = await commitGroup(deps.ledger, key.slice(0, split), key.slice(split + 1), events);
    counts.accepted += group.accepted;
    if (deps.budgets !== undefined)
      for (const kept of group.kept) await addSpend(deps.budgets, key.slice(0, key.indexOf('\n')), kept);
    counts.duplicates += events.length - group.accepted;
    counts.segments += group.segments;
    counts.keptBelowMark += group.keptBelowMark;
    if (group.regression !== undefined) counts.regressions.push(group.regression);
  }
  return counts;
}

/**
 * Adds one committed segment's usage to the budgets (after the commit: an event the ledger refused
 * as a duplicate is never added). The segment's partition and sequence range name it, so the
 * store applies it once however often Event Hubs delivers it; a crash between the commit and this
 * loses the segment's spend (the estimate errs low by it) and never counts it twice.
 */
async function addSpend(
  budgets: NonNullable<IngestDeps['budgets']>,
  partition: string,
  events: readonly Accepted[],
): Promise<void> {
  const spends = events.flatMap((e) => (e.spend === undefined ? [] : [e.spend]));
  const additions = spendAdditions(budgets.file, spends);
  if (additions.length === 0) return;
  const first = events[0]?.sequenceNumber ?? 0;
  const last = events[events.length - 1]?.sequenceNumber ?? 0;
  await budgets.spend.add(`${partition}:${first}-${last}:${events.length}`, additions);
}

interface GroupOutcome {
  accepted: number;
  /** The events of each segment committed, in sequence order. */
  kept: Accepted[][];
  segments: number;
  keptBelowMark: number;
  regression: string | undefined;
}

/**
 * Commits one (partition, day)'s events: those above the mark as a segment that moves it (the normal
 * path, which reads nothing back); those at or below it, unless the ledger holds their eventIds, as a
 * restart segment (see below-mark.ts). Each commit is guarded by the mark; a conflict re-reads it.
 */
async function commitGroup(
  ledger: Ledger,
  partition: string,
  day: string,
  events: Accepted[],
): Promise<GroupOutcome> {
  events.sort((a, b) => a.sequenceNumber - b.sequenceNumber);
  const outcome: GroupOutcome = {
    accepted: 0,
    kept: [],
    segments: 0,
    keptBelowMark: 0,
    regression: undefined,
  };
  let pending: readonly Accepted[] = events;
  let conflicts = 0;
  while (pending.length > 0) {
    const mark = await ledger.highWater(day, partition);
    const split = pending.findIndex((e) => e.sequenceNumber > mark.sequenceNumber);
    const below = split === -1 ? pending : pending.slice(0, split);
    const above = split === -1 ? [] : pending.slice(split);
    if (below.length === 0) {
      if ((await ledger.commit(draftOf(day, partition, above), mark)) === 'committed') {
        outcome.accepted += above.length;
        outcome.kept.push([...above]);
        outcome.segments += 1;
        return outcome;
      }
    } else {
      const unseen = await keepUnseen(ledger, mark, day, partition, below);
      if (unseen !== 'conflict') {
        const kept = unseen.length;
        if (kept > 0) {
          outcome.kept.push(unseen);
          outcome.accepted += kept;
          outcome.segments += 1;
          outcome.keptBelowMark += kept;
          outcome.regression ??= regressionReason({
            day,
            partition,
            mark: mark.sequenceNumber,
            first: events[0]?.sequenceNumber ?? 0,
            last: events[events.length - 1]?.sequenceNumber ?? 0,
            kept,
            duplicates: below.length - kept,
          });
        }
        pending = above;
        continue;
      }
    }
    conflicts += 1;
    if (conflicts >= MAX_COMMIT_ATTEMPTS)
      throw new TransientError(
        `partition ${partition}, day ${day}: the high-water mark kept moving; will retry`,
      );
  }
  return outcome;
}

/** Events at or below the mark: commits those the ledger does not hold; how many, or `conflict`. */
async function keepUnseen(
  ledger: Ledger,
  mark: HighWater,
  day: string,
  partition: string,
  below: readonly Accepted[],
): Promise<Accepted[] | 'conflict'> {
  const unseen = await notInLedger(ledger, day, partition, below);
  if (unseen.length === 0) return [];
  const draft = { ...draftOf(day, partition, unseen), restart: restartDigest(unseen.map((e) => e.line)) };
  return (await ledger.commit(draft, mark)) === 'committed' ? [...unseen] : 'conflict';
}

/** The segment of `events` (in sequence order, at least one). */
function draftOf(day: string, partition: string, events: readonly Accepted[]): SegmentDraft {
  let usageEvents = 0;
  let minStartMs = Number.POSITIVE_INFINITY;
  let maxEndMs = Number.NEGATIVE_INFINITY;
  for (const e of events) {
    if (e.usage) usageEvents += 1;
    minStartMs = Math.min(minStartMs, e.startMs);
    maxEndMs = Math.max(maxEndMs, e.endMs);
  }
  return {
    day,
    partition,
    firstSequence: events[0]?.sequenceNumber ?? 0,
    lastSequence: events[events.length - 1]?.sequenceNumber ?? 0,
    lines: events.map((e) => e.line),
    usageEvents,
    capacityEvents: events.length - usageEvents,
    minStartMs,
    maxEndMs,
  };
}

export type Verdict = {
  day: string;
  eventId: string;
  line: string;
  usage: boolean;
  startMs: number;
  endMs: number;
  /** A usage event's estimated cost, for budgets. */
  spend: EventSpend | undefined;
};

/**
 * examine, with anything it throws turned into a reason: whatever is wrong with one message (a
 * getter that throws, nesting too deep for JSON.stringify, ...) parks that message, never the batch,
 * which the host would otherwise redeliver forever (retry policy in functions/ingestUsage.ts).
 */
export function examineSafely(body: unknown, prices: PriceCard): Verdict | string {
  try {
    return examine(body, prices);
  } catch (error) {
    return `cannot be processed: ${errorText(error)}`;
  }
}

/** The event's day and canonical line, or the reason it is rejected. */
function examine(body: unknown, prices: PriceCard): Verdict | string {
  const text = messageText(body);
  if (!text.ok) return text.reason;
  let value: unknown;
  try {
    value = JSON.parse(text.text);
  } catch (error) {
    return `not valid JSON: ${errorText(error)}`;
  }
  const parsed = parseRecord(value);
  if (!parsed.ok) return parsed.reason;
  const record = parsed.record;
  if (record === null) return 'type: evaluation events belong on the evaluations hub, not the usage hub';
  const problem = admissionProblem(prices, record);
  if (problem !== undefined) return problem;
  const [start, end] =
    record.type === 'usage' ? [record.startedAt, record.finishedAt] : [record.windowStart, record.windowEnd];
  return {
    day: dayOf(end),
    eventId: record.eventId,
    // Throws (RangeError) for an unknown field nested thousands deep: examineSafely parks the message.
    line: text.canonical ? text.text : JSON.stringify(value),
    usage: record.type === 'usage',
    startMs: Math.floor(start / 1000),
    endMs: Math.ceil(end / 1000),
    spend:
      record.type === 'usage'
        ? {
            tenant: record.tenant,
            feature: record.feature,
            atMs: Math.floor(record.finishedAt / 1000),
            ...estimateSpend(record, prices, meanConcurrencyOf(value)),
          }
        : undefined,
  };
}

/**
 * The `meanConcurrency` attribute the sidecar puts on a usage event (how many requests its pod
 * worked on, on average, over the request's life), when it is a number of at least 1.
 */
function meanConcurrencyOf(value: unknown): number | undefined {
  const attributes = (value as { attributes?: unknown } | null)?.attributes;
  if (typeof attributes !== 'object' || attributes === null) return undefined;
  const text = (attributes as Record<string, unknown>).meanConcurrency;
  if (typeof text !== 'string' || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) && n >= 1 ? n : undefined;
}
