/** Largest completion request body by default: 128k tokens of text is about 0.5 MB; images as base64 take more. */
export const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
/** Request body bytes held at once by default: with the copies made while parsing, well inside the pod's 512 Mi. */
export const DEFAULT_BODY_BUDGET = 128 * 1024 * 1024;

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
