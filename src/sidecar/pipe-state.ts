/**
 * Where the event pipe sends a new event:
 * - `memory`: it waits in the bounded memory queue and goes out in a batch;
 * - `spooling`: it is appended to the spool, which a replay loop sends, oldest first, until the
 *   spool is empty (then memory again); the memory queue is empty all that time;
 * - `crashed`: the process is about to die and what was in memory is on disk; nothing more is sent.
 */
export type PipeState = 'memory' | 'spooling' | 'crashed';

/** What moves the pipe from one state to another. */
export type PipeEvent =
  /** The queue is full with no send in flight: memory would grow without bound. */
  | 'queue-full'
  /** The sender failed: events must wait on disk until it works again. */
  | 'send-failed'
  /** The replay found nothing on disk and nothing being written. */
  | 'spool-empty'
  /** The process is dying (an uncaught exception). */
  | 'crash';

/**
 * Every transition of the pipe. `crashed` is final: a send that fails, or a replay that ends,
 * after the crash must not move the pipe again, since spoolSync has already written its events.
 */
export function nextState(state: PipeState, event: PipeEvent): PipeState {
  if (state === 'crashed' || event === 'crash') return 'crashed';
  switch (event) {
    case 'queue-full':
    case 'send-failed':
      return 'spooling';
    case 'spool-empty':
      return 'memory';
  }
}

/** A repeating timer that can be re-armed with another period, until it is stopped for good. */
export class Ticker {
  private handle: NodeJS.Timeout | undefined;
  private stopped = false;

  /** True when started and not stopped. */
  get armed(): boolean {
    return this.handle !== undefined && !this.stopped;
  }

  /** Runs `tick` every `ms` from now on, instead of what ran before; nothing once stopped. */
  every(ms: number, tick: () => void): void {
    if (this.stopped) return;
    if (this.handle !== undefined) clearInterval(this.handle);
    this.handle = setInterval(tick, ms);
    this.handle.unref(); // the pipe's timer alone never keeps the process alive
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) clearInterval(this.handle);
  }
}

/** An async task that runs once at a time: a call while it runs joins the run in progress. */
export class SingleFlight {
  private running: Promise<void> | undefined;

  constructor(private readonly task: () => Promise<void>) {}

  /** The run in progress, if any. */
  get current(): Promise<void> | undefined {
    return this.running;
  }

  run(): Promise<void> {
    this.running ??= this.task().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
}
