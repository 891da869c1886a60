import { join } from 'node:path';
import { MAX_EVENT_BYTES, unsendable, type Unsendable } from './event-limits.js';
import { REJECTED_FILE, Spool } from './spool.js';

/**
 * Where events finally go: Event Hubs, or files. A send either takes the whole batch or throws; an
 * event it can never take (too large for a message, refused as invalid) it returns as rejected,
 * and sends the others.
 */
export interface Sender {
  // A sender that never refuses single events (the file sink) has nothing to return.
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
  send(events: readonly Record<string, unknown>[]): Promise<SendResult | void>;
  close(): Promise<void>;
}

export interface SendResult {
  readonly rejected: readonly Unsendable[];
}

export interface PipeCounters {
  published(n: number): void;
  spooled(n: number): void;
  replayed(n: number): void;
  dropped(n: number): void;
  /** Events set aside in the rejected file because they can never be sent. */
  rejected(n: number): void;
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
  /** Larger events are set aside, not sent (default MAX_EVENT_BYTES). */
  readonly maxEventBytes?: number;
  readonly counters?: PipeCounters;
  readonly log?: (message: string) => void;
}

const NO_COUNTERS: PipeCounters = {
  published: () => undefined,
  spooled: () => undefined,
  replayed: () => undefined,
  dropped: () => undefined,
  rejected: () => undefined,
  queueDepth: () => undefined,
};

/**
 * Delivers events in order and loses none short of a full disk. Events wait in a bounded memory
 * queue (bounded by queueMax, plus what arrives during one send attempt) and are sent in batches.
 * When the sender fails (or the queue is full), the failed batch, the rest of the queue and every
 * later event go, in that order, to NDJSON files in the spool folder; a replay loop sends the spool
 * oldest first, recording after each batch how many lines of the file are sent, and only when the
 * spool is empty do events go through memory again. The spool left by a previous process is
 * replayed first. A batch whose send succeeded just before a crash, before its progress was
 * recorded, is sent again: at least once, and the ledger counts by eventId.
 *
 * An event that can never be sent (larger than a message can be, or rejected by the sender) is set
 * aside, counted and logged, in the rejected file next to the spool, rather than retried forever
 * with every later event stuck behind it.
 */
export class EventPipe {
  private queue: Record<string, unknown>[] = [];
  private inFlight: readonly Record<string, unknown>[] | undefined;
  /**
   * memory: events queue in memory and go out in batches. spooling: every event goes to the spool,
   * which a replay loop sends, oldest first, until it is empty (then memory again). crashed: the
   * process is about to die and spoolSync has written what was in memory; nothing more is done.
   */
  private mode: 'memory' | 'spooling' | 'crashed' = 'memory';
  private flushing: Promise<void> | undefined;
  private replaying: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly spool: Spool;
  private readonly batchMax: number;
  private readonly maxEventBytes: number;
  private readonly counters: PipeCounters;
  private readonly log: (message: string) => void;

  constructor(
    private readonly sender: Sender,
    private readonly options: PipeOptions,
  ) {
    this.batchMax = options.batchMax ?? 500;
    this.maxEventBytes = options.maxEventBytes ?? MAX_EVENT_BYTES;
    this.counters = options.counters ?? NO_COUNTERS;
    this.log = options.log ?? ((m) => process.stderr.write(`${m}\n`));
    this.spool = new Spool(options.spoolDir, options.spoolFileBytes ?? 16 * 1024 * 1024, {
      written: (file, n) => {
        if (file !== REJECTED_FILE) this.counters.spooled(n);
      },
      failed: (file, n, error) => {
        // A full or broken disk is the one way to lose events: count them and say so loudly.
        this.counters.dropped(n);
        this.log(`DROPPED ${n} event(s): cannot write ${join(options.spoolDir, file)} (${error.message})`);
      },
    });
    // Whatever a previous process left in the spool goes out before anything new.
    if (this.spool.leftoversSync()) this.mode = 'spooling';
  }

  start(): void {
    this.timer = setInterval(
      () => {
        if (this.mode === 'spooling') void this.replay();
        else void this.flush();
      },
      this.mode === 'spooling' ? (this.options.retryMs ?? 5000) : (this.options.flushMs ?? 1000),
    );
    this.timer.unref();
    if (this.mode === 'spooling') void this.replay();
  }

  enqueue(event: Record<string, unknown>): void {
    const reason = unsendable(event, this.maxEventBytes);
    if (reason !== undefined) {
      this.setAside([{ event, reason }]);
      return;
    }
    if (this.mode !== 'memory') {
      this.spool.append([event]);
      return;
    }
    if (this.queue.length >= this.options.queueMax && this.flushing === undefined) {
      // Full and nothing in flight: the queue, then this event, go to disk in order. (While a send
      // is in flight, events keep queueing: a failed batch must reach the spool before them.)
      const queued = this.queue;
      this.queue = [];
      this.counters.queueDepth(0);
      this.mode = 'spooling';
      this.spool.append([...queued, event]);
      this.restartTimer();
      return;
    }
    this.queue.push(event);
    this.counters.queueDepth(this.queue.length);
    if (this.queue.length >= this.batchMax) void this.flush();
  }

  /**
   * Sends what is queued (or spools it when the sender fails), then tries the spool once; resolves
   * when what could not be sent is on disk. For shutdown.
   */
  async drain(): Promise<void> {
    for (;;) {
      while (this.queue.length > 0 && this.mode === 'memory') await this.flush();
      await this.flushing;
      if (this.current() === 'spooling') {
        await this.replay();
        if (this.current() !== 'memory') break; // the sender still fails: what is left stays on disk
      }
      if (this.queue.length === 0) break;
    }
    await this.spool.settled();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.drain();
    await this.sender.close();
  }

  /**
   * For a process about to die (an uncaught exception): puts on disk, synchronously, every event
   * that is only in memory (queued, in a send not yet answered, or waiting for its spool write), so
   * the next process sends it. The pipe takes no more events. Returns how many were written.
   */
  spoolSync(): number {
    this.closed = true;
    this.mode = 'crashed';
    if (this.timer !== undefined) clearInterval(this.timer);
    const events = [...(this.inFlight ?? []), ...this.queue];
    this.queue = [];
    return this.spool.flushSync(events);
  }

  /** Read through a method: sends, replays and spoolSync change it behind an await, which narrowing cannot see. */
  private current(): EventPipe['mode'] {
    return this.mode;
  }

  /** True when nothing waits: no queue, no spool, no write. */
  idle(): boolean {
    return (
      this.queue.length === 0 && this.mode === 'memory' && this.flushing === undefined && this.spool.idle()
    );
  }

  private flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    while (this.queue.length > 0 && this.current() === 'memory') {
      const batch = this.queue.splice(0, this.batchMax);
      this.counters.queueDepth(this.queue.length);
      this.inFlight = batch;
      try {
        const rejected = (await this.sender.send(batch))?.rejected ?? [];
        this.counters.published(batch.length - rejected.length);
        this.setAside(rejected);
      } catch (error) {
        if (this.current() === 'crashed') return; // spoolSync has written this batch already
        this.log(`event sender failed (${(error as Error).message}); spooling to ${this.options.spoolDir}`);
        // Order: the failed batch, then everything queued behind it; later events follow in enqueue().
        const behind = this.queue;
        this.queue = [];
        this.counters.queueDepth(0);
        this.mode = 'spooling';
        this.spool.append([...batch, ...behind]);
        this.restartTimer();
      } finally {
        this.inFlight = undefined;
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
    try {
      await this.replayFiles();
    } catch (error) {
      // The spool folder cannot be read (or a progress file written): try again at the next tick,
      // and never reject, since the timer's call is not awaited.
      this.log(`spool replay failed (${(error as Error).message}); will retry`);
    }
  }

  private async replayFiles(): Promise<void> {
    for (;;) {
      const files = await this.spool.files();
      if (this.current() === 'crashed') return;
      // The only file left is the one being appended to: new events go to a new file from here on.
      if (files.length === 1 && files[0] === this.spool.current()) this.spool.rotate();
      const file = files.find((f) => f !== this.spool.current());
      if (file === undefined) {
        if (this.spool.current() !== undefined) continue; // events arrived meanwhile: rotate, send them
        this.mode = 'memory'; // nothing on disk, nothing being written: memory again
        this.restartTimer();
        return;
      }
      await this.spool.written(file);
      if (!(await this.replayFile(file))) return;
    }
  }

  /** Sends one spool file from where it was left; true when it is done and removed. */
  private async replayFile(file: string): Promise<boolean> {
    const lines = await this.spool.lines(file);
    let sent = await this.spool.progress(file);
    while (sent < lines.length) {
      const batch: Record<string, unknown>[] = [];
      const rejected: Unsendable[] = [];
      for (const line of lines.slice(sent, sent + this.batchMax)) {
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(line) as Record<string, unknown>;
        } catch {
          // A line cut short by a crash mid-write: nothing can be sent from it; say so and count it.
          this.log(`spool ${file}: skipping an unreadable line`);
          this.counters.dropped(1);
          continue;
        }
        // A spool written before the size check existed may hold an event no batch can carry.
        const reason = unsendable(event, this.maxEventBytes);
        if (reason === undefined) batch.push(event);
        else rejected.push({ event, reason });
      }
      let refused: readonly Unsendable[] = [];
      try {
        if (batch.length > 0) refused = (await this.sender.send(batch))?.rejected ?? [];
      } catch (error) {
        this.log(`replay of ${file} failed (${(error as Error).message}); will retry`);
        return false;
      }
      sent = Math.min(lines.length, sent + this.batchMax);
      this.counters.replayed(batch.length - refused.length);
      this.counters.published(batch.length - refused.length);
      this.setAside([...rejected, ...refused]);
      await this.spool.saveProgress(file, sent);
    }
    await this.spool.remove(file);
    return true;
  }

  private setAside(rejected: readonly Unsendable[]): void {
    if (rejected.length === 0) return;
    this.counters.rejected(rejected.length);
    const where = join(this.options.spoolDir, REJECTED_FILE);
    for (const { event, reason } of rejected)
      this.log(
        `SET ASIDE event ${String(event.eventId)}: it can never be sent (${reason}); kept in ${where}`,
      );
    this.spool.setAside(rejected);
  }

  private restartTimer(): void {
    if (this.timer === undefined || this.closed) return;
    clearInterval(this.timer);
    this.start();
  }
}
