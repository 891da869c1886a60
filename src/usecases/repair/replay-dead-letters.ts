import type { PriceCard } from '../../domain/prices.js';
import { dayOfMs, dayStartMs, previousDay } from '../../domain/days.js';
import { type DeadLetter, type Ledger, type LedgerRepair, type SegmentInfo } from '../../ports/ledger.js';
import { examineSafely, type Verdict } from '../ingest/ingest.js';
import { bounded } from '../ingest/message-body.js';

/**
 * Replaying dead letters once their cause is fixed (a SKU added to the price card, say).
 *
 * Each dead letter is examined again exactly as ingestion examines a message, with the price card
 * and rules of today. One that now passes is committed as a replay segment keyed by its partition
 * and sequence number (see LedgerRepair in ports/ledger.ts, which also names the one case this
 * cannot exclude, and why the report is right even then):
 * - a second replay, or two replays at once, find the replay row and add nothing;
 * - before committing, the segments of its (day, partition) that cover its sequence number are read,
 *   and a message the normal path took after all (a batch redelivered to an instance with a newer
 *   card) is not added again;
 * - the replay never touches the high-water marks, so ingestion of the same partition goes on
 *   beside it without a conflict.
 * Only then is the dead letter moved to `replayed/`, so a crash between commit and move leaves a
 * letter whose next replay finds it committed and finishes the move. The days it touches are
 * marked dirty before the commit, as ingestion does, and so is the day it was enqueued, whose
 * summary counted it as rejected. A letter that still fails stays, with today's reason.
 */

export interface ReplayDeps {
  readonly ledger: Ledger & LedgerRepair;
  readonly prices: PriceCard;
  readonly now: () => Date;
}

export interface ReplayOptions {
  /** Enqueued days, inclusive; undefined: no bound. */
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  /** Examine and count, but write nothing. */
  readonly dryRun: boolean;
}

export interface ReplayOutcome {
  /** Committed by this run (in a dry run: would be). */
  replayed: number;
  /** Found in the ledger already (an earlier replay, or ingestion itself): only moved to `replayed/`. */
  alreadyInLedger: number;
  /** Dead letters that remain, by reason, most frequent first. */
  stillFailing: { reason: string; count: number }[];
  /** How many dead letters remain in the range: the sum of stillFailing. */
  left: number;
  /** Days marked for restatement (in a dry run: would be). */
  dirtyDays: string[];
}

const CANNOT_REPLAY = 'cannot be replayed: ';

/** Why a kept body cannot be examined again, or undefined when it holds the whole message as text. */
export function unreplayable(letter: DeadLetter): string | undefined {
  if (letter.bodyForm === 'base64')
    return 'the message is not UTF-8 text; only its bytes are kept, in base64';
  if (letter.bodyForm === 'description')
    return 'the message had no JSON form; only a description of it is kept';
  if (letter.truncated === true)
    return `only the first ${Buffer.byteLength(letter.body)} of its ${letter.bodyBytes ?? '?'} bytes are kept`;
  return undefined;
}

export async function replayDeadLetters(deps: ReplayDeps, options: ReplayOptions): Promise<ReplayOutcome> {
  const outcome: ReplayOutcome = {
    replayed: 0,
    alreadyInLedger: 0,
    stillFailing: [],
    left: 0,
    dirtyDays: [],
  };
  const failing = new Map<string, number>();
  const dirty = new Set<string>();
  const ledgerView = new LedgerView(deps.ledger);
  for await (const letter of deps.ledger.deadLettersBetween(options.from, options.to)) {
    const reason = failure(letter, deps.prices);
    if (typeof reason === 'string') {
      failing.set(reason, (failing.get(reason) ?? 0) + 1);
      if (!options.dryRun && reason !== letter.reason) await deps.ledger.deadLetter([{ ...letter, reason }]);
      continue;
    }
    const verdict = reason;
    const days = touchedDays(verdict, letter);
    for (const day of days) dirty.add(day);
    const found = await ledgerView.holds(verdict, letter);
    if (options.dryRun) {
      if (found) outcome.alreadyInLedger += 1;
      else outcome.replayed += 1;
      continue;
    }
    // Marked before the commit, as ingestion does: a crash over-marks, never under-marks.
    await deps.ledger.markDirty(days, deps.now().toISOString());
    const committed =
      !found &&
      (await deps.ledger.commitReplay({
        day: verdict.day,
        partition: letter.partition,
        sequenceNumber: letter.sequenceNumber,
        line: verdict.line,
        usage: verdict.usage,
        startMs: verdict.startMs,
        endMs: verdict.endMs,
      })) === 'committed';
    if (committed) outcome.replayed += 1;
    else outcome.alreadyInLedger += 1;
    await deps.ledger.retireDeadLetter(letter, deps.now().toISOString());
  }
  outcome.stillFailing = [...failing.entries()]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  outcome.left = outcome.stillFailing.reduce((sum, f) => sum + f.count, 0);
  outcome.dirtyDays = [...dirty].sort();
  return outcome;
}

/** The event a dead letter now makes, or today's reason it still fails. */
function failure(letter: DeadLetter, prices: PriceCard): Verdict | string {
  const cannot = unreplayable(letter);
  if (cannot !== undefined) {
    // Said once: the original reason stays readable after the note, and a second run keeps it as is.
    return letter.reason.startsWith(CANNOT_REPLAY)
      ? letter.reason
      : bounded(`${CANNOT_REPLAY}${cannot}; rejected at ingestion: ${letter.reason}`);
  }
  const verdict = examineSafely(letter.body, prices);
  // Bounded as at ingestion, so an unchanged long reason is not written again on every run.
  return typeof verdict === 'string' ? bounded(verdict) : verdict;
}

/** The event's day, the day before when it started then (contracts.md §4.7), and the day it was enqueued. */
function touchedDays(verdict: Verdict, letter: DeadLetter): string[] {
  const days = new Set([verdict.day, dayOfMs(Date.parse(letter.enqueuedTime))]);
  if (verdict.startMs < dayStartMs(verdict.day)) days.add(previousDay(verdict.day));
  return [...days].sort();
}

const SEGMENT_CACHE = 16;

/** Whether the ledger already holds a message; the segments of a day and a few texts are cached. */
class LedgerView {
  private readonly segments = new Map<string, Promise<SegmentInfo[]>>();
  private readonly texts = new Map<string, string>();

  constructor(private readonly ledger: Ledger) {}

  async holds(verdict: Verdict, letter: DeadLetter): Promise<boolean> {
    let day = this.segments.get(verdict.day);
    if (day === undefined) {
      day = this.ledger.segmentsFor(verdict.day);
      this.segments.set(verdict.day, day);
    }
    for (const segment of await day) {
      if (segment.day !== verdict.day || segment.partition !== letter.partition) continue;
      if (segment.firstSequence > letter.sequenceNumber || segment.lastSequence < letter.sequenceNumber)
        continue;
      // The same canonical line: this message, or a copy of it that the daily run counts once anyway.
      if (`\n${await this.text(segment)}`.includes(`\n${verdict.line}\n`)) return true;
    }
    return false;
  }

  private async text(segment: SegmentInfo): Promise<string> {
    const cached = this.texts.get(segment.blob);
    if (cached !== undefined) return cached;
    const text = await this.ledger.readSegment(segment);
    if (this.texts.size >= SEGMENT_CACHE) this.texts.clear();
    this.texts.set(segment.blob, text);
    return text;
  }
}
