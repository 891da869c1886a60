import { join } from 'node:path';
import { MAX_EVENT_BYTES, unsendable, type Unsendable } from './event-limits.js';
import { adoptJournalsSync, Journal } from './journal.js';
import { nextState, SingleFlight, Ticker, type PipeEvent, type PipeState } from './pipe-state.js';
import { REJECTED_FILE, Spool } from './spool.js';
import { replaySpoolFile, type SpoolReplayDeps } from './spool-replay.js';

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
  /** A journal file that reaches this size is closed and the next event starts another (default 4 MiB). */
  readonly journalFileBytes?: number;
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
  /** Where new events go; changed only by transition(). */
  private state: PipeState = 'memory';
  /** Events waiting in memory; empty unless the state is memory. */
  private queue: Record<string, unknown>[] = [];
  /** The batch the sender has not answered yet, for spoolSync. */
  private inFlight: readonly Record<string, unknown>[] | undefined;
  private readonly flushes = new SingleFlight(() => this.flushOnce());
  private readonly replays = new SingleFlight(() => this.replayOnce());
  private readonly ticker = new Ticker();
  private readonly spool: Spool;
  /** Every event sent or spooled is first here, on disk, until it is delivered or in the spool. */
  private readonly journal: Journal;
  private readonly batchMax: number;
  private readonly maxEventBytes: number;
  private readonly counters: PipeCounters;
  private readonly log: (message: string) => void;
  private readonly replayDeps: SpoolReplayDeps;

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
        if (file === REJECTED_FILE) return;
        this.counters.spooled(n);
        this.journal.settle(n); // on disk in the spool now
      },
      failed: (file, n, error) => {
        // A full or broken disk is the one way to lose events: count them and say so loudly.
        this.counters.dropped(n);
        this.log(`DROPPED ${n} event(s): cannot write ${join(options.spoolDir, file)} (${error.message})`);
        if (file !== REJECTED_FILE) this.journal.settle(n);
      },
    });
    this.journal = new Journal(options.spoolDir, options.journalFileBytes, this.log);
    this.replayDeps = {
      send: async (events) => (await this.sender.send(events))?.rejected ?? [],
      spool: this.spool,
      batchMax: this.batchMax,
      maxEventBytes: this.maxEventBytes,
      counters: this.counters,
      log: this.log,
      setAside: (rejected) => {
        this.setAside(rejected);
      },
    };
    // A journal left by a process that was killed holds events it may not have delivered: they
    // join the spool, and whatever a previous process left there goes out before anything new.
    const adopted = adoptJournalsSync(options.spoolDir);
    if (adopted > 0)
      this.log(`replaying ${adopted} journal file(s) a previous process left in ${options.spoolDir}`);
    if (this.spool.leftoversSync()) this.state = 'spooling';
  }

  start(): void {
    this.arm();
  }

  enqueue(event: Record<string, unknown>): void {
    const reason = unsendable(event, this.maxEventBytes);
    if (reason !== undefined) {
      this.setAside([{ event, reason }]);
      return;
    }
    // On disk before the caller goes on (before the request's answer completes), whatever comes next.
    this.journal.record(event);
    if (this.state === 'crashed') return; // spoolSync has run: the journal keeps it for the next process
    if (this.state !== 'memory') {
      this.spool.append([event]);
      return;
    }
    if (this.queue.length >= this.options.queueMax && this.flushes.current === undefined) {
      // Full and nothing in flight: the queue, then this event, go to disk in order. (While a send
      // is in flight, events keep queueing: a failed batch must reach the spool before them.)
      this.spoolFromMemory('queue-full', [...this.takeQueue(), event]);
      return;
    }
    this.queue.push(event);
    this.counters.queueDepth(this.queue.length);
    if (this.queue.length >= this.batchMax) void this.flushes.run();
  }

  /**
   * Sends what is queued (or spools it when the sender fails), then tries the spool once; resolves
   * when what could not be sent is on disk. For shutdown.
   */
  async drain(): Promise<void> {
    for (;;) {
      while (this.queue.length > 0 && this.current() === 'memory') await this.flushes.run();
      await this.flushes.current;
      if (this.current() === 'spooling') {
        await this.replays.run();
        if (this.current() !== 'memory') break; // the sender still fails: what is left stays on disk
      }
      if (this.queue.length === 0) break;
    }
    await this.spool.settled();
  }

  async close(): Promise<void> {
    this.ticker.stop();
    await this.drain();
    this.journal.close(); // normally empty by now; what is left, the next process replays
    await this.sender.close();
  }

  /**
   * For a process about to die (an uncaught exception): puts on disk, synchronously, every event
   * that is only in memory (queued, in a send not yet answered, or waiting for its spool write), so
   * the next process sends it. The pipe takes no more events. Returns how many were written.
   */
  spoolSync(): number {
    this.transition('crash');
    const events = [...(this.inFlight ?? []), ...this.queue];
    this.queue = [];
    const written = this.spool.flushSync(events);
    // Every journalled event is in that spool file now (or was sent): the journal would only repeat it.
    this.journal.discard();
    return written;
  }

  /** True when nothing waits: no queue, no spool, no write, nothing in the journal. */
  idle(): boolean {
    return (
      this.queue.length === 0 &&
      this.state === 'memory' &&
      this.flushes.current === undefined &&
      this.spool.idle() &&
      this.journal.idle()
    );
  }

  /**
   * The one place the state changes. The timer follows the state: a flush every flushMs in memory,
   * a replay at once and then every retryMs while spooling, none once crashed or closed.
   */
  private transition(event: PipeEvent): void {
    this.state = nextState(this.state, event);
    if (this.state === 'crashed') this.ticker.stop();
    else if (this.ticker.armed) this.arm();
  }

  private arm(): void {
    const spooling = this.state === 'spooling';
    this.ticker.every(spooling ? (this.options.retryMs ?? 5000) : (this.options.flushMs ?? 1000), () => {
      if (this.state === 'spooling') void this.replays.run();
      else void this.flushes.run();
    });
    if (spooling) void this.replays.run();
  }

  /** Read through a method: sends, replays and spoolSync change it behind an await, which narrowing cannot see. */
  private current(): PipeState {
    return this.state;
  }

  private takeQueue(): Record<string, unknown>[] {
    const queued = this.queue;
    this.queue = [];
    this.counters.queueDepth(0);
    return queued;
  }

  /** Leaves memory for the spool, writing first what memory held, in order. */
  private spoolFromMemory(event: 'queue-full' | 'send-failed', events: Record<string, unknown>[]): void {
    // On their way to disk before the replay that the transition starts looks at the spool.
    this.spool.append(events);
    this.transition(event);
  }

  private async flushOnce(): Promise<void> {
    while (this.queue.length > 0 && this.current() === 'memory') {
      const batch = this.queue.splice(0, this.batchMax);
      this.counters.queueDepth(this.queue.length);
      this.inFlight = batch;
      try {
        const rejected = (await this.sender.send(batch))?.rejected ?? [];
        this.journal.settle(batch.length); // delivered (or refused for good, and set aside below)
        this.counters.published(batch.length - rejected.length);
        this.setAside(rejected);
      } catch (error) {
        if (this.current() === 'crashed') return; // spoolSync has written this batch already
        this.log(`event sender failed (${(error as Error).message}); spooling to ${this.options.spoolDir}`);
        // Order: the failed batch, then everything queued behind it; later events follow in enqueue().
        this.spoolFromMemory('send-failed', [...batch, ...this.takeQueue()]);
      } finally {
        this.inFlight = undefined;
      }
    }
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
        this.transition('spool-empty'); // nothing on disk, nothing being written: memory again
        return;
      }
      await this.spool.written(file);
      if (!(await replaySpoolFile(file, this.replayDeps))) return;
    }
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
}
