/**
 * Bytes of request bodies the sidecar may hold at once, across all requests being read or
 * forwarded: one oversized upload cannot pass the per-body limit, and many concurrent ones cannot
 * together take the pod past its memory limit (20 uploads of 31 MB reached 722 MB against 512 Mi).
 */
export class BodyBudget {
  private held = 0;

  constructor(readonly total: number) {}

  /** Reserves `bytes`; false (nothing reserved) when that would go over the total. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.total) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held -= bytes;
  }

  get inUse(): number {
    return this.held;
  }
}
