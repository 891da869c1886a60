/**
 * The ledger: every accepted event, exactly once, in NDJSON segments grouped by event day and Event
 * Hubs partition, with a small index row per segment. See README "Ledger layout" for why.
 *
 * Exactly once rests on Event Hubs' sequence numbers: within one partition they only grow, and the
 * host delivers a partition in order. For each (day, partition) the ledger keeps a high-water mark,
 * the last sequence number committed to that day. A batch commits only its events above the mark,
 * and the segment's index row and the new mark are written in one atomic Table transaction guarded
 * by the mark's ETag. So a redelivered batch, whatever its boundaries, adds nothing twice; two
 * instances racing on one partition cannot both commit; and a crash between writing a segment blob
 * and committing it leaves an unreferenced blob that no report ever reads.
 *
 * Numbering that goes back. Sequence numbers only grow within one hub's partition, but a recreated
 * hub, a failover to another namespace or a checkpoint moved back delivers events numbered at or
 * below the mark that the ledger never saw. So events at or below the mark are not taken for
 * redeliveries on their number alone: their eventIds are looked up in the segments of the (day,
 * partition) that cover their sequence numbers (segmentsCovering), and those not found are
 * committed as a restart segment (SegmentDraft.restart): named by its first sequence number and a
 * digest of its lines, so it never takes the name or index row of a segment of the same numbers,
 * and committed under the same guard, the mark rewritten unmoved so that its ETag changes. Two
 * instances taking the same events can then not both commit, as on the normal path. Only this path
 * reads segments back; a batch above the mark costs what it did.
 */
import { dayOfMs } from '../domain/days.js';

/** Where the ledger is in one (day, partition): the last committed sequence number. */
export interface HighWater {
  readonly sequenceNumber: number;
  /** Opaque version for the conditional commit; undefined when nothing was committed yet. */
  readonly version: string | undefined;
}

export const NOTHING_COMMITTED: HighWater = { sequenceNumber: -1, version: undefined };

/** A run of accepted events of one event day from one partition, in sequence order. */
export interface SegmentDraft {
  /** UTC day of the events' end (finishedAt, windowEnd), YYYY-MM-DD. */
  readonly day: string;
  readonly partition: string;
  readonly firstSequence: number;
  readonly lastSequence: number;
  /** One canonical JSON event per line. */
  readonly lines: readonly string[];
  readonly usageEvents: number;
  readonly capacityEvents: number;
  /** Earliest start (startedAt, windowStart) in the segment, epoch ms: tells which earlier day it touches. */
  readonly minStartMs: number;
  readonly maxEndMs: number;
  /**
   * Set only for events at or below the mark that the ledger does not hold (numbering went back,
   * see above): a digest of `lines` (hex), which names the segment beside the others of its day.
   */
  readonly restart?: string;
}

/** The index row of a committed segment. */
export interface SegmentInfo {
  readonly day: string;
  readonly partition: string;
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly events: number;
  readonly usageEvents: number;
  readonly capacityEvents: number;
  readonly minStartMs: number;
  readonly maxEndMs: number;
  readonly blob: string;
  readonly committedAt: string;
}

/** A message that could not be accepted, kept whole with where it came from and why. */
export interface DeadLetter {
  readonly partition: string;
  readonly sequenceNumber: number;
  readonly enqueuedTime: string;
  readonly reason: string;
  /** The message as `bodyForm` says, at most DEAD_LETTER_BODY_BYTES of it (see src/usecases/ingest/message-body.ts). */
  readonly body: string;
  /**
   * How `body` holds the message: `text`, its original text (the default); `json`, the value the
   * host had already parsed, serialised again; `base64`, bytes that are not UTF-8; `description`, a
   * value with no JSON (cyclic, BigInt, a getter that throws), as Node's util.inspect shows it.
   */
  readonly bodyForm?: 'text' | 'json' | 'base64' | 'description';
  /** Size of the whole body in bytes (UTF-8 for text), whether or not it was cut. */
  readonly bodyBytes?: number;
  /** True when `body` holds only the first bytes of the message. */
  readonly truncated?: boolean;
}

export interface DirtyDay {
  readonly day: string;
  /** When a segment touching this day was last about to be committed. */
  readonly lastCommitAt: string;
}

export type CommitOutcome = 'committed' | 'conflict';

export interface Ledger {
  highWater(day: string, partition: string): Promise<HighWater>;
  /**
   * Writes the segment and, atomically, its index row and the new mark, if the mark is still
   * `expected`. The mark never goes back: a restart segment leaves its number and changes its version.
   */
  commit(draft: SegmentDraft, expected: HighWater): Promise<CommitOutcome>;
  /** Index rows of the day's segments (restart and replay ones too) of `partition` with a sequence number in first..last. */
  segmentsCovering(day: string, partition: string, first: number, last: number): Promise<SegmentInfo[]>;
  /** Idempotent: a dead letter is named by its partition and sequence number. */
  deadLetter(letters: readonly DeadLetter[]): Promise<void>;
  /** Marks days whose report must be (re)made; called before committing, so a crash over-marks, never under-marks. */
  markDirty(days: readonly string[], at: string): Promise<void>;
  dirtyDays(since: string): Promise<DirtyDay[]>;
  /** Segments holding events of `day`: those of the day, and those of the next day that started before it ended. */
  segmentsFor(day: string): Promise<SegmentInfo[]>;
  readSegment(segment: SegmentInfo): Promise<string>;
  /** Dead letters of messages enqueued on `day`. */
  deadLettersOn(day: string): Promise<number>;
  /**
   * The price card as the daily run last saw it: SKU -> an opaque record of its prices (see
   * src/usecases/daily/price-changes.ts). Empty before the first run.
   */
  pricesSeen(): Promise<Map<string, string>>;
  /** Replaces what pricesSeen returns: SKUs absent from `records` are forgotten. */
  rememberPrices(records: ReadonlyMap<string, string>): Promise<void>;
}

const pad = (n: number): string => String(n).padStart(20, '0');

/** The index row of a segment about to be committed. */
export function segmentInfo(draft: SegmentDraft, committedAt: string): SegmentInfo {
  return {
    day: draft.day,
    partition: draft.partition,
    firstSequence: draft.firstSequence,
    lastSequence: draft.lastSequence,
    events: draft.lines.length,
    usageEvents: draft.usageEvents,
    capacityEvents: draft.capacityEvents,
    minStartMs: draft.minStartMs,
    maxEndMs: draft.maxEndMs,
    blob: segmentBlobName(draft),
    committedAt,
  };
}

/** Blob name of a segment: sortable, and the same name for the same events. */
export function segmentBlobName(
  d: Pick<SegmentDraft, 'day' | 'partition' | 'firstSequence' | 'lastSequence' | 'restart'>,
): string {
  const range = `${pad(d.firstSequence)}-${pad(d.lastSequence)}`;
  const name = d.restart === undefined ? range : `restart-${range}-${d.restart}`;
  return `segments/${d.day}/${d.partition}/${name}.ndjson`;
}

export function deadLetterBlobName(
  letter: Pick<DeadLetter, 'partition' | 'sequenceNumber' | 'enqueuedTime'>,
): string {
  return `deadletter/${dayOfMs(Date.parse(letter.enqueuedTime))}/${letter.partition}/${pad(letter.sequenceNumber)}.json`;
}

export function segmentRowKey(partition: string, firstSequence: number): string {
  return `seg|${partition}|${pad(firstSequence)}`;
}

/** The index row key of a committed draft, restart segments beside the segment of the same first number. */
export function draftRowKey(d: Pick<SegmentDraft, 'partition' | 'firstSequence' | 'restart'>): string {
  const key = segmentRowKey(d.partition, d.firstSequence);
  return d.restart === undefined ? key : `${key}|restart-${d.restart}`;
}

export function highWaterRowKey(partition: string): string {
  return `hwm|${partition}`;
}

/*
 * Repair: replaying dead letters and sweeping orphan segments.
 *
 * A replayed dead letter cannot go through the high-water mark: the mark of its (day, partition)
 * has usually moved past its sequence number. It is committed instead as a replay segment of its
 * own, named by (day, partition, sequence number): one blob and one index row, the row created only
 * if absent. A message therefore enters the ledger at most once by replay (a second replay finds
 * the row and adds nothing), and the replay first looks for the message in the segments of its
 * (day, partition) that cover its sequence number, so one the normal path took after all (a batch
 * redelivered to an instance with a newer price card) is not added again. The replay row sits
 * beside the segment rows of its day, so the daily run reads it like any other segment.
 *
 * What this does not exclude: a batch that the host is still retrying when the replay runs, and
 * that is then accepted by an instance with the newer card, commits a message the replay has just
 * committed too. The replay never moves the high-water mark to shut that door, because moving it
 * would skip the other messages of that unfinished batch, which is worse than holding one twice;
 * the daily run counts an eventId once (contracts.md §4.6), so the report is right either way.
 */

/** A dead letter that passes today's rules, ready to be committed on its own. */
export interface ReplayDraft {
  /** UTC day of the event's end, as for a segment. */
  readonly day: string;
  readonly partition: string;
  readonly sequenceNumber: number;
  /** The canonical JSON event, as ingestion would have written it. */
  readonly line: string;
  readonly usage: boolean;
  readonly startMs: number;
  readonly endMs: number;
}

/** A blob under `segments/`, committed or not, as the sweep sees it. */
export interface SegmentBlob {
  readonly name: string;
  readonly bytes: number;
  readonly lastModified: string;
  /** Opaque version: a delete is conditional on it, so a blob written again since it was listed survives. */
  readonly version: string;
}

export interface LedgerRepair {
  /** Dead letters of messages enqueued from `from` to `to` (inclusive days; undefined: no bound), in name order. */
  deadLettersBetween(from: string | undefined, to: string | undefined): AsyncIterable<DeadLetter>;
  /** Commits a replay segment; `already` when that message was replayed before. */
  commitReplay(draft: ReplayDraft): Promise<'committed' | 'already'>;
  /** Moves a replayed dead letter to `replayed/`, so it no longer counts as rejected; idempotent. */
  retireDeadLetter(letter: DeadLetter, replayedAt: string): Promise<void>;
  segmentBlobs(): AsyncIterable<SegmentBlob>;
  /** The blob named by the index row (day, rowKey), or undefined when there is no such row. */
  indexedBlob(day: string, rowKey: string): Promise<string | undefined>;
  /** Deletes the blob if it is still the version listed; false when it changed or is gone. */
  deleteSegmentBlob(blob: SegmentBlob): Promise<boolean>;
}

export function replaySegmentBlobName(d: Pick<ReplayDraft, 'day' | 'partition' | 'sequenceNumber'>): string {
  return `segments/${d.day}/${d.partition}/replay-${pad(d.sequenceNumber)}.ndjson`;
}

export function replayRowKey(partition: string, sequenceNumber: number): string {
  return `${segmentRowKey(partition, sequenceNumber)}|replay`;
}

export function replayedBlobName(
  letter: Pick<DeadLetter, 'partition' | 'sequenceNumber' | 'enqueuedTime'>,
): string {
  return deadLetterBlobName(letter).replace(/^deadletter\//, 'replayed/');
}

/** The index row that commits a segment blob, from the blob's name; undefined for a name the ledger never writes. */
export function indexRowOf(blob: string): { day: string; rowKey: string } | undefined {
  const match =
    /^segments\/(\d{4}-\d{2}-\d{2})\/([^/]+)\/(?:(\d{20})-\d{20}|restart-(\d{20})-\d{20}-([0-9a-f]+)|replay-(\d{20}))\.ndjson$/.exec(
      blob,
    );
  if (match === null) return undefined;
  const [, day = '', partition = '', first, restartFirst, restart, replayed] = match;
  if (first !== undefined) return { day, rowKey: segmentRowKey(partition, Number(first)) };
  if (restart !== undefined)
    return { day, rowKey: draftRowKey({ partition, firstSequence: Number(restartFirst), restart }) };
  return { day, rowKey: replayRowKey(partition, Number(replayed)) };
}

/** The index row of a committed replay segment. */
export function replaySegmentInfo(draft: ReplayDraft, committedAt: string): SegmentInfo {
  return {
    day: draft.day,
    partition: draft.partition,
    firstSequence: draft.sequenceNumber,
    lastSequence: draft.sequenceNumber,
    events: 1,
    usageEvents: draft.usage ? 1 : 0,
    capacityEvents: draft.usage ? 0 : 1,
    minStartMs: draft.startMs,
    maxEndMs: draft.endMs,
    blob: replaySegmentBlobName(draft),
    committedAt,
  };
}
