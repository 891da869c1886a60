import { dayEndMs, nextDay } from '../../domain/days.js';
import {
  deadLetterBlobName,
  indexRowOf,
  replayedBlobName,
  replayRowKey,
  replaySegmentBlobName,
  replaySegmentInfo,
  type LedgerRepair,
  type ReplayDraft,
  type SegmentBlob,
  NOTHING_COMMITTED,
  segmentBlobName,
  segmentInfo,
  type CommitOutcome,
  type DeadLetter,
  type DirtyDay,
  type HighWater,
  type Ledger,
  type SegmentDraft,
  type SegmentInfo,
} from '../../ports/ledger.js';

/** The ledger in memory, with the same contract as the Storage one (tests run one suite on both). */
export class MemoryLedger implements Ledger, LedgerRepair {
  private readonly marks = new Map<string, { sequenceNumber: number; version: number }>();
  private readonly segments = new Map<string, SegmentInfo[]>();
  private readonly blobs = new Map<string, string>();
  private readonly letters = new Map<string, DeadLetter>();
  private readonly dirty = new Map<string, string>();
  private versions = 0;
  /** When each blob was last written, and a version that changes with every write. */
  private readonly blobWrites = new Map<string, { at: string; version: number }>();
  private readonly replayRows = new Set<string>();
  private readonly replayed = new Map<string, DeadLetter & { replayedAt: string }>();

  /** `clock` stamps blob writes, so tests can age them. */
  constructor(private readonly clock: () => Date = () => new Date()) {}
  private prices = new Map<string, string>();

  highWater(day: string, partition: string): Promise<HighWater> {
    const mark = this.marks.get(`${day}|${partition}`);
    return Promise.resolve(
      mark === undefined
        ? NOTHING_COMMITTED
        : { sequenceNumber: mark.sequenceNumber, version: String(mark.version) },
    );
  }

  commit(draft: SegmentDraft, expected: HighWater): Promise<CommitOutcome> {
    const key = `${draft.day}|${draft.partition}`;
    const mark = this.marks.get(key);
    const current = mark === undefined ? undefined : String(mark.version);
    const blob = segmentBlobName(draft);
    this.writeBlob(blob, draft.lines.map((l) => `${l}\n`).join(''));
    if (current !== expected.version) return Promise.resolve('conflict');
    this.versions += 1;
    const sequenceNumber = Math.max(expected.sequenceNumber, draft.lastSequence);
    this.marks.set(key, { sequenceNumber, version: this.versions });
    const list = this.segments.get(draft.day) ?? [];
    list.push(segmentInfo(draft, new Date().toISOString()));
    this.segments.set(draft.day, list);
    return Promise.resolve('committed');
  }

  deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    for (const letter of letters) this.letters.set(deadLetterBlobName(letter), letter);
    return Promise.resolve();
  }

  markDirty(days: readonly string[], at: string): Promise<void> {
    for (const day of days) if ((this.dirty.get(day) ?? '') < at) this.dirty.set(day, at);
    return Promise.resolve();
  }

  dirtyDays(since: string): Promise<DirtyDay[]> {
    return Promise.resolve(
      [...this.dirty.entries()]
        .filter(([day]) => day >= since)
        .sort((a, b) => a[0].localeCompare(b[0]))
        .map(([day, lastCommitAt]) => ({ day, lastCommitAt })),
    );
  }

  segmentsFor(day: string): Promise<SegmentInfo[]> {
    const end = dayEndMs(day);
    const own = this.segments.get(day) ?? [];
    const spill = (this.segments.get(nextDay(day)) ?? []).filter((s) => s.minStartMs < end);
    return Promise.resolve([...own, ...spill]);
  }

  segmentsCovering(day: string, partition: string, first: number, last: number): Promise<SegmentInfo[]> {
    return Promise.resolve(
      (this.segments.get(day) ?? []).filter(
        (s) => s.partition === partition && s.firstSequence <= last && s.lastSequence >= first,
      ),
    );
  }

  readSegment(segment: SegmentInfo): Promise<string> {
    const text = this.blobs.get(segment.blob);
    if (text === undefined) return Promise.reject(new Error(`segment ${segment.blob} is missing`));
    return Promise.resolve(text);
  }

  deadLettersOn(day: string): Promise<number> {
    let count = 0;
    for (const name of this.letters.keys()) if (name.startsWith(`deadletter/${day}/`)) count += 1;
    return Promise.resolve(count);
  }

  pricesSeen(): Promise<Map<string, string>> {
    return Promise.resolve(new Map(this.prices));
  }

  rememberPrices(records: ReadonlyMap<string, string>): Promise<void> {
    this.prices = new Map(records);
    return Promise.resolve();
  }

  /** For tests: every dead letter kept. */
  deadLetters(): DeadLetter[] {
    return [...this.letters.values()];
  }

  /** For tests: every dead letter moved to `replayed/`. */
  replayedLetters(): DeadLetter[] {
    return [...this.replayed.values()];
  }

  async *deadLettersBetween(from: string | undefined, to: string | undefined): AsyncIterable<DeadLetter> {
    const names = [...this.letters.keys()].sort();
    for (const name of names) {
      const day = name.slice('deadletter/'.length, 'deadletter/'.length + 10);
      if ((from !== undefined && day < from) || (to !== undefined && day > to)) continue;
      const letter = this.letters.get(name);
      if (letter !== undefined) yield await Promise.resolve(letter);
    }
  }

  commitReplay(draft: ReplayDraft): Promise<'committed' | 'already'> {
    this.writeBlob(replaySegmentBlobName(draft), `${draft.line}\n`);
    const row = `${draft.day}|${replayRowKey(draft.partition, draft.sequenceNumber)}`;
    if (this.replayRows.has(row)) return Promise.resolve('already');
    this.replayRows.add(row);
    const list = this.segments.get(draft.day) ?? [];
    list.push(replaySegmentInfo(draft, this.clock().toISOString()));
    this.segments.set(draft.day, list);
    return Promise.resolve('committed');
  }

  retireDeadLetter(letter: DeadLetter, replayedAt: string): Promise<void> {
    this.replayed.set(replayedBlobName(letter), { ...letter, replayedAt });
    this.letters.delete(deadLetterBlobName(letter));
    return Promise.resolve();
  }

  async *segmentBlobs(): AsyncIterable<SegmentBlob> {
    for (const name of [...this.blobs.keys()].sort()) {
      const text = this.blobs.get(name);
      const write = this.blobWrites.get(name);
      if (text === undefined || write === undefined) continue;
      yield await Promise.resolve({
        name,
        bytes: Buffer.byteLength(text),
        lastModified: write.at,
        version: String(write.version),
      });
    }
  }

  indexedBlob(day: string, rowKey: string): Promise<string | undefined> {
    const found = (this.segments.get(day) ?? []).find((s) => indexRowOf(s.blob)?.rowKey === rowKey);
    return Promise.resolve(found?.blob);
  }

  deleteSegmentBlob(blob: SegmentBlob): Promise<boolean> {
    if (String(this.blobWrites.get(blob.name)?.version) !== blob.version) return Promise.resolve(false);
    this.blobs.delete(blob.name);
    this.blobWrites.delete(blob.name);
    return Promise.resolve(true);
  }

  private writeBlob(name: string, text: string): void {
    this.versions += 1;
    this.blobs.set(name, text);
    this.blobWrites.set(name, { at: this.clock().toISOString(), version: this.versions });
  }
}
