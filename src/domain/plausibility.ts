import type { UsageRecord } from './records.js';

/**
 * Bounds on what the allocation trusts in a usage event's token counts. The step-cost weighting
 * turns tokens per second into a share of the pod's time, so an event with absurd counts (10^15
 * tokens) would take nearly all the GPU-time of the requests beside it. An event beyond what a
 * request could physically do, at generous ceilings, is rejected with a reason instead.
 */

/** Prompt + completion tokens of one request: twice the largest context window served today (1M). */
export const MAX_TOKENS_PER_REQUEST = 2_000_000;
/** Uncached prompt tokens per second of prefill, per GPU: about 14 times an A100's rate for an 8B model. */
export const MAX_PREFILL_TOKENS_PER_GPU_SECOND = 500_000;
/** Completion tokens per second of decode, per request: room for many choices (n > 1) and speculation. */
export const MAX_DECODE_TOKENS_PER_SECOND = 50_000;

const MICROS_PER_SECOND = 1_000_000;

/**
 * Why the event's token counts are implausible, or undefined. `activeStart` is where the
 * request's prefill starts (after its queue wait). A phase of zero length carries no weight in the
 * allocation (see phaseRates), so its tokens are bounded only by the total.
 */
export function implausibleTokens(request: UsageRecord, activeStart: number): string | undefined {
  const total = request.promptTokens + request.completionTokens;
  if (total > MAX_TOKENS_PER_REQUEST) {
    return `promptTokens + completionTokens: ${total} is more than the ${MAX_TOKENS_PER_REQUEST} one request can hold`;
  }
  const prefillEnd = request.firstTokenAt ?? request.finishedAt;
  const prefillSeconds = (prefillEnd - activeStart) / MICROS_PER_SECOND;
  const uncached = request.promptTokens - request.cachedPromptTokens;
  const prefillLimit = MAX_PREFILL_TOKENS_PER_GPU_SECOND * request.gpuCount * prefillSeconds;
  if (prefillSeconds > 0 && uncached > prefillLimit) {
    return (
      `promptTokens: ${uncached} uncached tokens in ${prefillSeconds} s of prefill is more than ` +
      `${MAX_PREFILL_TOKENS_PER_GPU_SECOND} per second per GPU`
    );
  }
  // Without a first token, the request's whole active time is the bound for its completion.
  const decodeStart = request.firstTokenAt ?? activeStart;
  const decodeSeconds = (request.finishedAt - decodeStart) / MICROS_PER_SECOND;
  if (decodeSeconds > 0 && request.completionTokens > MAX_DECODE_TOKENS_PER_SECOND * decodeSeconds) {
    return (
      `completionTokens: ${request.completionTokens} in ${decodeSeconds} s of decode is more than ` +
      `${MAX_DECODE_TOKENS_PER_SECOND} per second`
    );
  }
  return undefined;
}
