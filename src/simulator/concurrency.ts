import { MeanConcurrency } from '../domain/mean-concurrency.js';

/**
 * The `meanConcurrency` a budget-enforcing sidecar puts on each usage event, with the sidecar's
 * own integral (domain/mean-concurrency.ts), as the engine's requests end. The engine yields them
 * in the order they end; arrivals are entered in time order up to each end, so the integral sees
 * the instants in the order the sidecar does.
 */
export class PodConcurrency<R extends { readonly arrival: number }> {
  private readonly byArrival: readonly R[];
  private next = 0;
  private readonly pod = new MeanConcurrency();
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
      this.since.set(r, this.pod.enter(r.arrival));
    }
    const since = this.since.get(request);
    if (since === undefined) return 1;
    this.since.delete(request);
    return this.pod.leave(end, since, request.arrival);
  }
}
