/**
 * The `meanConcurrency` a budget-enforcing sidecar puts on each usage event (src/sidecar/
 * concurrency.ts: the integral of its pod's requests in flight over the request's life, divided by
 * the life's length), computed as the engine's requests end. The engine yields them in the order
 * they end; arrivals are taken in time order up to each end, so the integral is the sidecar's.
 */
export class PodConcurrency<R extends { readonly arrival: number }> {
  private readonly byArrival: readonly R[];
  private next = 0;
  private inFlight = 0;
  private integral = 0;
  private last = -Infinity;
  private readonly since = new Map<R, number>();

  /** `requests`: every request of the pod, with its arrival in milliseconds. */
  constructor(requests: readonly R[]) {
    this.byArrival = [...requests].sort((a, b) => a.arrival - b.arrival);
  }

  /** The request ends at `end` (ms, as its event says): its mean concurrency, itself included. */
  end(request: R, end: number): number {
    for (; this.next < this.byArrival.length; this.next += 1) {
      const r = this.byArrival[this.next];
      if (r === undefined || r.arrival > end) break;
      this.advance(r.arrival);
      this.inFlight += 1;
      this.since.set(r, this.integral);
    }
    this.advance(end);
    const since = this.since.get(request);
    this.since.delete(request);
    if (since !== undefined) this.inFlight = Math.max(0, this.inFlight - 1);
    const length = end - request.arrival;
    if (since === undefined || !(length > 0)) return 1;
    return Math.max(1, (this.integral - since) / length);
  }

  private advance(at: number): void {
    if (at > this.last) {
      if (Number.isFinite(this.last)) this.integral += this.inFlight * (at - this.last);
      this.last = at;
    }
  }
}
