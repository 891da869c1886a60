import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where events finally go: Event Hubs, or files. A send either takes the whole batch or throws. */
export interface Sender {
  send(events: readonly Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
}

export interface PipeCounters {
  published(n: number): void;
  spooled(n: number): void;
  replayed(n: number): void;
  dropped(n: number): void;
  queueDepth(n: number): void;
}

export interface PipeOptions {
  readonly spoolDir: string;
  /** Events held in memory before new ones go to the spool instead. */
  readonly queueMax: number;
  readonly batchMax?: number;
  readonly flushMs?: number;
  /** How often to try the sender again while events wait in the spool. */
  readonly retryMs?: number;
  /**
   * A spool file that reaches this size is closed and later events go to a new one (default
   * 16 MiB), so that a long outage leaves many files each read back whole, not one that outgrows
   * what a string can hold.
   */
  readonly spoolFileBytes?: number;
  readonly counters?: PipeCounters;
  readonly log?: (message: string) => void;
}

const NO_COUNTERS: PipeCounters = {
  published: () => undefined,
  spooled: () => undefined,
  replayed: () => undefined,
  dropped: () => undefined,
  queueDepth: () => undefined,
};

/**
 * Delivers events in order and loses none short of a full disk. Events wait in a bounded memory
 * queue (bounded by queueMax, plus what arrives during one send attempt) and are sent in batches. When the sender fails (or the queue is full), the failed batch,
 * the rest of the queue and every later event go, in that order, to NDJSON files in the spool
 * folder; a replay loop sends the spool oldest first, recording after each batch how many lines of
 * the file are sent, and only when the spool is empty do events go through memory again. The spool
 * left by a previous process is replayed first. A batch whose send succeeded just before a crash,
 * before its progress was recorded, is sent again: at least once, and the ledger counts by eventId.
 */
export class EventPipe {
  private queue: Record<string, unknown>[] = [];
  private spooling = false;
  private writeFile: string | undefined;
  private writeBytes = 0;
  private fileCounter = 0;
  private flushing: Promise<void> | undefined;
  private replaying: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly batchMax: number;
  private readonly counters: PipeCounters;
  private readonly log: (message: string) => void;

  constructor(
    private readonly sender: Sender,
    private readonly options: PipeOptions,
  ) {
    this.batchMax = options.batchMax ?? 500;
    this.counters = options.counters ?? NO_COUNTERS;
    this.log = options.log ?? ((m) => process.stderr.write(`${m}\n`));
    mkdirSync(options.spoolDir, { recursive: true });
    // Whatever a previous process left in the spool goes out before anything new.
    if (this.spoolFiles().length > 0) this.spooling = true;
  }

  start(): void {
    this.timer = setInterval(
      () => {
        if (this.spooling) void this.replay();
        else void this.flush();
      },
      this.spooling ? (this.options.retryMs ?? 5000) : (this.options.flushMs ?? 1000),
    );
    this.timer.unref();
    if (this.spooling) void this.replay();
  }

  enqueue(event: Record<string, unknown>): void {
    if (this.spooling) {
      this.spool([event]);
      return;
    }
    if (this.queue.length >= this.options.queueMax && this.flushing === undefined) {
      // Full and nothing in flight: the queue, then this event, go to disk in order. (While a send
      // is in flight, events keep queueing: a failed batch must reach the spool before them.)
      const queued = this.queue;
      this.queue = [];
      this.counters.queueDepth(0);
      this.spool([...queued, event]);
      this.restartTimer();
      return;
    }
    this.queue.push(event);
    this.counters.queueDepth(this.queue.length);
    if (this.queue.length >= this.batchMax) void this.flush();
  }

  /** Sends what is queued (or spools it when the sender fails), then tries the spool once. For shutdown. */
  async drain(): Promise<void> {
    for (;;) {
      while (this.queue.length > 0 && !this.spooling) await this.flush();
      await this.flushing;
      if (this.spooling) {
        await this.replay();
        if (this.isSpooling()) return; // the sender still fails: what is left stays on disk
      }
      if (this.queue.length === 0) return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.drain();
    await this.sender.close();
  }

  /** Read through a method: the replay changes it behind an await, which narrowing cannot see. */
  private isSpooling(): boolean {
    return this.spooling;
  }

  /** True when nothing waits: no queue and no spool. */
  idle(): boolean {
    return this.queue.length === 0 && !this.spooling && this.flushing === undefined;
  }

  private flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    while (this.queue.length > 0 && !this.spooling) {
      const batch = this.queue.splice(0, this.batchMax);
      this.counters.queueDepth(this.queue.length);
      try {
        await this.sender.send(batch);
        this.counters.published(batch.length);
      } catch (error) {
        this.log(`event sender failed (${(error as Error).message}); spooling to ${this.options.spoolDir}`);
        // Order: the failed batch, then everything queued behind it; later events follow in enqueue().
        const behind = this.queue;
        this.queue = [];
        this.counters.queueDepth(0);
        this.spooling = true;
        this.spool([...batch, ...behind]);
        this.restartTimer();
      }
    }
  }

  private replay(): Promise<void> {
    this.replaying ??= this.replayOnce().finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
  }

  private async replayOnce(): Promise<void> {
    for (;;) {
      let files = this.spoolFiles();
      if (files.length === 1 && files[0] === this.writeFile) {
        this.writeFile = undefined; // rotate: new events go to a new file while this one is replayed
        files = this.spoolFiles();
      }
      const file = files.find((f) => f !== this.writeFile);
      if (file === undefined) {
        if (this.writeFile === undefined || !existsSync(join(this.options.spoolDir, this.writeFile))) {
          this.spooling = false;
          this.restartTimer();
        }
        return;
      }
      if (!(await this.replayFile(file))) return;
    }
  }

  /** Sends one spool file from where it was left; true when it is done and removed. */
  private async replayFile(file: string): Promise<boolean> {
    const path = join(this.options.spoolDir, file);
    const progressPath = `${path}.sent`;
    const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
    let sent = existsSync(progressPath) ? Number(readFileSync(progressPath, 'utf8')) || 0 : 0;
    while (sent < lines.length) {
      const batch: Record<string, unknown>[] = [];
      for (const line of lines.slice(sent, sent + this.batchMax)) {
        try {
          batch.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // A line cut short by a crash mid-write: nothing can be sent from it; say so and count it.
          this.log(`spool ${file}: skipping an unreadable line`);
          this.counters.dropped(1);
        }
      }
      try {
        if (batch.length > 0) await this.sender.send(batch);
      } catch (error) {
        this.log(`replay of ${file} failed (${(error as Error).message}); will retry`);
        return false;
      }
      sent = Math.min(lines.length, sent + this.batchMax);
      this.counters.replayed(batch.length);
      this.counters.published(batch.length);
      writeFileSync(progressPath, String(sent));
    }
    rmSync(path, { force: true });
    rmSync(progressPath, { force: true });
    return true;
  }

  private spool(events: readonly Record<string, unknown>[]): void {
    if (events.length === 0) return;
    this.spooling = true;
    if (this.writeFile === undefined) {
      this.writeFile = `spool-${String(Date.now()).padStart(15, '0')}-${String(this.fileCounter++).padStart(6, '0')}.ndjson`;
      this.writeBytes = 0;
    }
    try {
      const text = events.map((e) => `${JSON.stringify(e)}\n`).join('');
      appendFileSync(join(this.options.spoolDir, this.writeFile), text);
      this.counters.spooled(events.length);
      this.writeBytes += Buffer.byteLength(text);
      if (this.writeBytes >= (this.options.spoolFileBytes ?? 16 * 1024 * 1024)) this.writeFile = undefined;
    } catch (error) {
      // A full or broken disk is the one way to lose events: count them and say so loudly.
      this.counters.dropped(events.length);
      this.log(`DROPPED ${events.length} event(s): cannot write the spool (${(error as Error).message})`);
    }
  }

  private spoolFiles(): string[] {
    return readdirSync(this.options.spoolDir)
      .filter((f) => f.startsWith('spool-') && f.endsWith('.ndjson'))
      .sort();
  }

  private restartTimer(): void {
    if (this.timer === undefined || this.closed) return;
    clearInterval(this.timer);
    this.start();
  }
}
