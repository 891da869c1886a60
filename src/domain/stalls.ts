/**
 * Stalls of a streamed answer (contracts.md §2, `attributes.stalls`): a gap between two tokens far
 * above the request's own inter-token time, which is what a recompute preemption looks like from
 * outside the engine. vLLM frees a preempted sequence's KV cache and, when it schedules it again,
 * prefills its whole context (prompt and the tokens made so far) before the next token; the stream
 * is silent meanwhile. The sidecar measures the gaps from token arrival times, the simulator from
 * the same instants of its engine, both with `isStall`; the allocation charges the recompute
 * (docs/accounting.md#recompute-preemption).
 */

/** One stall: where it began, how long the stream was silent, and how many tokens came before it. */
export interface Stall {
  /** From the first token to the last token before the stall, ms. */
  readonly atMs: number;
  /** From that token to the next one, ms. */
  readonly gapMs: number;
  /** Tokens streamed before the stall, the first one included (at least 1). */
  readonly tokens: number;
}

/**
 * The rule: a gap is a stall when the pod made at least STALL_MIN_STEPS steps between its two
 * tokens (other streams of the pod got tokens at that many instants in between: the sequence sat
 * out of the batch), it is at least STALL_MIN_MS, and it is at least STALL_FACTOR times the mean of
 * the request's earlier gaps that were not stalls (no such condition for the gap after the first
 * token, which has none before it). A long step, one with a full prefill budget in it, is as long
 * for every stream of the pod and no stream misses it: 5 to 24 times a decode-only step on the
 * benchmark's pods, it would pass a rule of gaps alone.
 */
export const STALL_MIN_STEPS = 1;
export const STALL_MIN_MS = 50;
export const STALL_FACTOR = 2;
/** At most this many stalls go on an event; a request with more keeps its first ones. */
export const MAX_STALLS = 16;
/** Token arrivals closer than this to the pod's last one are of the same step (StepClock). */
export const STEP_MERGE_MS = 2;

/** Whether a gap of `gapMs`, with `stepsBetween` steps of the pod in it, after `gaps` ordinary gaps of mean `meanGapMs`, is a stall. */
export function isStall(gapMs: number, stepsBetween: number, gaps: number, meanGapMs: number): boolean {
  if (!(stepsBetween >= STALL_MIN_STEPS) || !(gapMs >= STALL_MIN_MS)) return false;
  return gaps === 0 || gapMs >= STALL_FACTOR * meanGapMs;
}

/**
 * The pod's steps as its streams show them: tokens of every decoding sequence come at the end of
 * each step, together, so each burst of arrivals (each arrival within STEP_MERGE_MS of the one
 * before) is a step. One per sidecar, told of every streamed token of every request.
 */
export class StepClock {
  private last = Number.NEGATIVE_INFINITY;
  private count = 0;

  /** A token of some stream arrived at `atMs`; returns the step it belongs to. */
  tick(atMs: number): number {
    if (atMs - this.last > STEP_MERGE_MS) this.count += 1;
    this.last = Math.max(this.last, atMs);
    return this.count;
  }
}

/**
 * Follows one stream's token arrivals (the sidecar's side): `token(at, step)` for each token in
 * order, with the pod's step from its StepClock; `stalls` once it ends. Instants in ms on a clock
 * that does not jump.
 */
export class StallDetector {
  private first = Number.NaN;
  private last = Number.NaN;
  private lastStep = 0;
  private tokens = 0;
  /** Ordinary gaps: how many and their sum. */
  private gaps = 0;
  private gapSum = 0;
  private readonly found: Stall[] = [];

  /** A token (or several in one piece of the stream: `count`) arrived at `atMs`, in the pod's step `step`. */
  token(atMs: number, step: number, count = 1): void {
    if (!(count >= 1)) return;
    if (this.tokens === 0) {
      this.first = atMs;
    } else {
      const gap = Math.max(0, atMs - this.last);
      const mean = this.gaps === 0 ? 0 : this.gapSum / this.gaps;
      if (isStall(gap, step - this.lastStep - 1, this.gaps, mean)) {
        if (this.found.length < MAX_STALLS)
          this.found.push({ atMs: this.last - this.first, gapMs: gap, tokens: this.tokens });
      } else {
        this.gaps += 1;
        this.gapSum += gap;
      }
    }
    // Tokens that came in one piece arrived together: gaps of 0 between them.
    this.gaps += count - 1;
    this.tokens += count;
    this.last = atMs;
    this.lastStep = step;
  }

  get stalls(): readonly Stall[] {
    return this.found;
  }
}

/** The attribute's text: `atMs/gapMs/tokens` per stall, whole ms, joined by commas. */
export function formatStalls(stalls: readonly Stall[]): string {
  return stalls
    .slice(0, MAX_STALLS)
    .map((s) => `${Math.round(s.atMs)}/${Math.round(s.gapMs)}/${s.tokens}`)
    .join(',');
}

export type StallsResult = { readonly stalls: readonly Stall[] } | { readonly reason: string };

const ENTRY = /^(\d{1,9})\/(\d{1,9})\/(\d{1,9})$/;

/**
 * The attribute read back against its event: at most MAX_STALLS entries of whole numbers, in
 * order, each inside the decode window (`decodeMs`, first token to the end) and before the last
 * token (`completionTokens`). Anything else is a reason, and the event is allocated as if it had no
 * stalls: an attribute is an extra dimension, never a reason to refuse the request's usage.
 */
export function parseStalls(text: string, completionTokens: number, decodeMs: number): StallsResult {
  if (text.length === 0) return { stalls: [] };
  if (text.length > MAX_STALLS * 32) return { reason: `stalls is ${text.length} characters, over the limit` };
  const parts = text.split(',');
  if (parts.length > MAX_STALLS) return { reason: `stalls has ${parts.length} entries, over ${MAX_STALLS}` };
  const stalls: Stall[] = [];
  let end = 0;
  let tokens = 0;
  for (const part of parts) {
    const m = ENTRY.exec(part);
    if (m === null) return { reason: `stalls entry "${part.slice(0, 40)}" is not atMs/gapMs/tokens` };
    const stall = { atMs: Number(m[1]), gapMs: Number(m[2]), tokens: Number(m[3]) };
    if (stall.tokens < 1 || stall.tokens <= tokens || stall.tokens >= completionTokens)
      return { reason: `stalls entry "${part}" has tokens out of order or not before the last token` };
    // Whole ms on both sides: allow the rounding of each entry.
    if (stall.atMs + 1 < end || stall.atMs + stall.gapMs > decodeMs + 2 * stalls.length + 2)
      return { reason: `stalls entry "${part}" lies outside the decode window (${Math.round(decodeMs)} ms)` };
    stalls.push(stall);
    end = stall.atMs + stall.gapMs;
    tokens = stall.tokens;
  }
  return { stalls };
}
