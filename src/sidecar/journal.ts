import { closeSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Default size at which a journal file is closed and the next event starts another. */
export const JOURNAL_FILE_BYTES = 4 * 1024 * 1024;

interface Segment {
  readonly name: string;
  /** Open while events are appended to it; undefined once closed, or when it could not be opened. */
  fd: number | undefined;
  bytes: number;
  /** Events recorded in it, and how many of those are settled (delivered, or on disk in the spool). */
  recorded: number;
  settled: number;
}

/**
 * The write-ahead journal of the event pipe: every event is appended to it synchronously as it is
 * enqueued, so an answered request's event is on disk (in the page cache) before the answer
 * completes, and a process killed at any moment (SIGKILL, the OOM killer) leaves it behind. Without
 * fsync: the page cache survives the process, and a write costs microseconds rather than a disk
 * flush; only a crash of the node itself can lose the last writes.
 *
 * Events are settled in the order they were recorded, as the pipe delivers them in order (sent,
 * or written to the spool); a journal file is removed once every event in it is settled. A file
 * closes at `fileBytes`, so the journal holds at most the events not yet settled plus one file.
 * A journal left by a process that died is adopted at start-up as spool files and replayed with
 * the spool; an event that had been sent is so sent again, and the ledger counts each eventId once.
 */
export class Journal {
  /** Oldest first; the last one is appended to while it is open. */
  private readonly segments: Segment[] = [];
  private counter = 0;
  private failing = false;

  constructor(
    readonly dir: string,
    private readonly fileBytes: number = JOURNAL_FILE_BYTES,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  /** Appends the event, synchronously. A failed write is logged, and the event still counted in order. */
  record(event: Record<string, unknown>): void {
    let segment = this.segments.at(-1);
    if (segment?.fd === undefined || segment.bytes >= this.fileBytes) segment = this.open();
    segment.recorded += 1;
    if (segment.fd === undefined) return;
    try {
      segment.bytes += writeSync(segment.fd, `${JSON.stringify(event)}\n`);
      this.failing = false;
    } catch (error) {
      this.failed(error as Error);
    }
    if (segment.bytes >= this.fileBytes) this.closeFile(segment);
  }

  /** The next `count` events recorded (oldest first) are delivered or spooled: fully settled files go. */
  settle(count: number): void {
    let left = count;
    while (left > 0) {
      const oldest = this.segments[0];
      if (oldest === undefined) return; // more settled than recorded: nothing is left to remove
      const take = Math.min(left, oldest.recorded - oldest.settled);
      oldest.settled += take;
      left -= take;
      if (oldest.settled < oldest.recorded) return;
      this.segments.shift();
      this.remove(oldest);
    }
  }

  /** True when every event recorded is settled (no journal file is left). */
  idle(): boolean {
    return this.segments.length === 0;
  }

  /** Files are closed; what is not settled stays on disk for the next process. */
  close(): void {
    for (const s of this.segments) this.closeFile(s);
  }

  /** Everything recorded is on disk elsewhere (the process is about to die): the journal goes. */
  discard(): void {
    for (const s of this.segments.splice(0)) this.remove(s);
  }

  private open(): Segment {
    const prior = this.segments.at(-1);
    if (prior !== undefined) this.closeFile(prior);
    const name = `journal-${String(Date.now()).padStart(15, '0')}-${String(this.counter++).padStart(6, '0')}.ndjson`;
    const segment: Segment = { name, fd: undefined, bytes: 0, recorded: 0, settled: 0 };
    try {
      segment.fd = openSync(join(this.dir, name), 'a');
    } catch (error) {
      this.failed(error as Error);
    }
    this.segments.push(segment);
    return segment;
  }

  private closeFile(segment: Segment): void {
    if (segment.fd === undefined) return;
    try {
      closeSync(segment.fd);
    } catch {
      // closing cannot lose what was written
    }
    segment.fd = undefined;
  }

  private remove(segment: Segment): void {
    this.closeFile(segment);
    try {
      rmSync(join(this.dir, segment.name), { force: true });
    } catch (error) {
      this.log(`journal: cannot remove ${segment.name} (${(error as Error).message}); it will be replayed`);
    }
  }

  private failed(error: Error): void {
    // Once per run of failures: the event still goes through memory, only not durably.
    if (!this.failing)
      this.log(`journal: cannot write to ${this.dir} (${error.message}); events are not durable`);
    this.failing = true;
  }
}

/**
 * At start-up: journal files a previous process left (it was killed before their events were
 * delivered) become spool files, which the pipe replays before anything new. Returns how many.
 */
export function adoptJournalsSync(dir: string): number {
  const left = readdirSync(dir).filter((n) => n.startsWith('journal-') && n.endsWith('.ndjson'));
  for (const name of left)
    renameSync(
      join(dir, name),
      join(dir, `spool-${name.slice('journal-'.length, -'.ndjson'.length)}-journal.ndjson`),
    );
  return left.length;
}
