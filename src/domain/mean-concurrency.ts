/**
 * How many requests the pod was working on, on average, over each request's life: the sidecar sees
 * every request of its pod, so it keeps the integral of the number in flight over time, and a
 * request's mean concurrency is that integral's growth over its life divided by its length. O(1) a
 * request, nothing held per request but two numbers.
 *
 * It goes in the usage event (attribute `meanConcurrency`) for the spend budgets' estimate at
 * ingestion (contracts.md §14): a request's share of its pod's GPU-time is about its time held
 * divided by how many shared it. The daily report's allocation does not read it. The simulator
 * computes it with this class too (src/simulator/concurrency.ts), so its events carry the sidecar's figure.
 */
export class MeanConcurrency {
  private inFlight = 0;
  /** Request-milliseconds in flight, up to `last`. */
  private integral = 0;
  private last = Number.NEGATIVE_INFINITY;

  /** A request arrives at `now` (ms): the integral at that instant, for `leave`. */
  enter(now: number): number {
    this.advance(now);
    this.inFlight += 1;
    return this.integral;
  }

  /**
   * The request that entered at `startedAt` with `since` (what enter gave) ends at `now`: its mean
   * concurrency, itself included (1 when it was alone, or when it took no time).
   */
  leave(now: number, since: number, startedAt: number): number {
    this.advance(now);
    this.inFlight = Math.max(0, this.inFlight - 1);
    const length = now - startedAt;
    if (!(length > 0)) return 1;
    return Math.max(1, (this.integral - since) / length);
  }

  private advance(now: number): void {
    // A clock that steps back adds nothing (never a negative span).
    if (now > this.last) {
      if (Number.isFinite(this.last)) this.integral += this.inFlight * (now - this.last);
      this.last = now;
    }
  }
}
