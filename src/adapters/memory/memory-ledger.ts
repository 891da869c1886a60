import {
  deadLetterBlobName,
  dayEndMs,
  NOTHING_COMMITTED,
  nextDay,
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
export class MemoryLedger implements Ledger {
  private readonly marks = new Map<string, { sequenceNumber: number; version: number }>();
  private readonly segments = new Map<string, SegmentInfo[]>();
  private readonly blobs = new Map<string, string>();
  private readonly letters = new Map<string, DeadLetter>();
  private readonly dirty = new Map<string, string>();
  private versions = 0;
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
    this.blobs.set(blob, draft.lines.map((l) => `${l}\n`).join(''));
    if (current !== expected.version) return Promise.resolve('conflict');
    this.versions += 1;
    this.marks.set(key, { sequenceNumber: draft.lastSequence, version: this.versions });
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
}
