import { appendFileSync, mkdirSync, readdirSync } from 'node:fs';
import { appendFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Unsendable } from './event-limits.js';

/** Where events that can never be sent are kept for a person to look at, next to the spool files. */
export const REJECTED_FILE = 'rejected.ndjson';

interface Write {
  readonly file: string;
  text: string;
  count: number;
  started: boolean;
}

export interface SpoolOutcomes {
  /** `count` events are on disk in `file`. */
  written(file: string, count: number): void;
  /** `count` events could not be written (a full or broken disk). */
  failed(file: string, count: number, error: Error): void;
}

/**
 * The spool folder: NDJSON files of events, appended asynchronously and strictly in order (one
 * write at a time, each after the one before, appends made meanwhile joined into the next), so the
 * proxy's event loop never waits on the disk.
 * A file that reaches `fileBytes` is closed and the next append starts a new one. Everything not
 * yet known to be on disk is kept in memory until its write returns, so that `flushSync` can put it
 * on disk when the process is about to die.
 */
export class Spool {
  private writeFile: string | undefined;
  private writeBytes = 0;
  private counter = 0;
  private readonly unwritten: Write[] = [];
  private tail: Promise<void> = Promise.resolve();
  private readonly lastWrite = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(
    readonly dir: string,
    private readonly fileBytes: number,
    private readonly outcomes: SpoolOutcomes,
  ) {
    mkdirSync(dir, { recursive: true }); // once, at start-up
  }

  /** True when a previous process left spool files (read once, at start-up). */
  leftoversSync(): boolean {
    return readdirSync(this.dir).some(isSpoolFile);
  }

  /** Appends events to the current spool file, in the order of the calls. */
  append(events: readonly Record<string, unknown>[]): void {
    if (events.length === 0) return;
    this.writeFile ??= this.newName();
    const text = events.map((e) => `${JSON.stringify(e)}\n`).join('');
    this.write(this.writeFile, text, events.length);
    this.writeBytes += Buffer.byteLength(text);
    if (this.writeBytes >= this.fileBytes) this.writeFile = undefined;
  }

  /** Appends events that can never be sent, with their reason, to the rejected file. */
  setAside(rejected: readonly Unsendable[]): void {
    if (rejected.length === 0) return;
    const at = new Date().toISOString();
    const text = rejected.map((r) => `${rejectedLine(at, r)}\n`).join('');
    this.write(REJECTED_FILE, text, rejected.length);
  }

  /** Later appends go to a new file; the current one can then be read back whole. */
  rotate(): void {
    this.writeFile = undefined;
  }

  /** The file appends go to now, if any. */
  current(): string | undefined {
    return this.writeFile;
  }

  /** Spool file names, oldest first: on disk, being written, and the current one. */
  async files(): Promise<string[]> {
    const names = new Set((await readdir(this.dir)).filter(isSpoolFile));
    for (const w of this.unwritten) if (w.file !== REJECTED_FILE) names.add(w.file);
    if (this.writeFile !== undefined) names.add(this.writeFile);
    return [...names].sort();
  }

  /** Resolves when every append to `file` made so far is on disk (or has failed). */
  written(file: string): Promise<void> {
    return this.lastWrite.get(file) ?? Promise.resolve();
  }

  /** Resolves when every append made so far is on disk (or has failed). */
  settled(): Promise<void> {
    return this.tail;
  }

  /** True when no write waits. */
  idle(): boolean {
    return this.unwritten.length === 0;
  }

  /** The lines of a spool file; none when it does not exist (its every write failed). */
  async lines(file: string): Promise<string[]> {
    const text = await readFile(join(this.dir, file), 'utf8').catch(() => '');
    return text.split('\n').filter((l) => l !== '');
  }

  /** How many lines of the file are sent, as recorded after each replayed batch. */
  async progress(file: string): Promise<number> {
    const text = await readFile(join(this.dir, `${file}.sent`), 'utf8').catch(() => '0');
    return Number(text) || 0;
  }

  saveProgress(file: string, sent: number): Promise<void> {
    return writeFile(join(this.dir, `${file}.sent`), String(sent));
  }

  async remove(file: string): Promise<void> {
    await rm(join(this.dir, file), { force: true });
    await rm(join(this.dir, `${file}.sent`), { force: true });
  }

  /**
   * For a process about to die: writes, synchronously, every append not yet known to be on disk
   * (the one in flight too: it may not have reached the disk) and then `events`, to a new spool file
   * (the rejected ones to the rejected file), and stops the asynchronous writes. What was in flight
   * may so be on disk twice; the ledger counts an eventId once.
   */
  flushSync(events: readonly Record<string, unknown>[]): number {
    this.stopped = true;
    const pending = this.unwritten.splice(0);
    const rejected = pending.filter((w) => w.file === REJECTED_FILE);
    const spooled = pending.filter((w) => w.file !== REJECTED_FILE);
    if (rejected.length > 0)
      appendFileSync(join(this.dir, REJECTED_FILE), rejected.map((w) => w.text).join(''));
    const text = spooled.map((w) => w.text).join('') + events.map((e) => `${JSON.stringify(e)}\n`).join('');
    if (text !== '') appendFileSync(join(this.dir, this.newName()), text);
    return spooled.reduce((n, w) => n + w.count, events.length);
  }

  private write(file: string, text: string, count: number): void {
    const last = this.unwritten.at(-1);
    if (last !== undefined && last.file === file && !last.started) {
      // Appends that arrive while the disk is busy go out together in the next write.
      last.text += text;
      last.count += count;
      return;
    }
    const w: Write = { file, text, count, started: false };
    this.unwritten.push(w);
    const done = this.tail.then(async () => {
      if (this.stopped) return;
      w.started = true;
      try {
        await appendFile(join(this.dir, w.file), w.text);
        this.outcomes.written(w.file, w.count);
      } catch (error) {
        this.outcomes.failed(w.file, w.count, error as Error);
      } finally {
        // Writes run one at a time in the order of the calls: the one that ends is the first (unless
        // flushSync took them all meanwhile).
        if (this.unwritten[0] === w) this.unwritten.shift();
        if (this.lastWrite.get(w.file) === done) this.lastWrite.delete(w.file);
      }
    });
    this.tail = done;
    this.lastWrite.set(w.file, done);
  }

  private newName(): string {
    this.writeBytes = 0;
    return `spool-${String(Date.now()).padStart(15, '0')}-${String(this.counter++).padStart(6, '0')}.ndjson`;
  }
}

/** Bytes in the spool files of a folder (0 when it does not exist yet); files gone meanwhile count 0. */
export async function spoolBytes(dir: string): Promise<number> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter(isSpoolFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const sizes = await Promise.all(
    names.map(async (name) => {
      try {
        return (await stat(join(dir, name))).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0; // replayed and removed meanwhile
        throw error;
      }
    }),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

function isSpoolFile(name: string): boolean {
  return name.startsWith('spool-') && name.endsWith('.ndjson');
}

function rejectedLine(at: string, r: Unsendable): string {
  try {
    return JSON.stringify({ setAsideAt: at, reason: r.reason, event: r.event });
  } catch {
    // An event that cannot be written as JSON: its id and reason still say what happened.
    return JSON.stringify({
      setAsideAt: at,
      reason: r.reason,
      eventId: String(r.event.eventId),
      event: null,
    });
  }
}
