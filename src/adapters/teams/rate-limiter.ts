/**
 * At most `limit` starts in any window of `windowMs`: Teams Workflows webhooks throttle a URL that
 * is posted to more than 4 times a second (contracts.md §7), so the client waits rather than earning a 429.
 * One limiter per URL; the clock and the sleep are parameters so tests run on virtual time.
 */
export class RateLimiter {
  private readonly starts: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  /** Resolves when one more start fits in the window, and counts it. Callers are served in order. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.wait());
    // A failed wait (a rejected sleep) must not fail every later caller too.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async wait(): Promise<void> {
    if (this.starts.length >= this.limit) {
      const oldest = this.starts[this.starts.length - this.limit] ?? 0;
      const delay = oldest + this.windowMs - this.now();
      if (delay > 0) await this.sleep(delay);
    }
    this.starts.push(this.now());
    if (this.starts.length > this.limit) this.starts.splice(0, this.starts.length - this.limit);
  }
}
