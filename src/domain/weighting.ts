import type { UsageRecord } from './records.js';

/**
 * How a pod's GPU-time is shared among the requests active at the same instant (contracts.md §4.2).
 *
 * `step-cost` (default) follows the measured step-cost model (docs/accounting.md): a vLLM step costs a
 * fixed part (reading the weights once, about 8.4 ms on an H100 for an 8B model) that every
 * sequence in the step shares, plus a marginal part per token: 0.0277 ms per prefill token and
 * 0.0092 ms + 0.0000426 ms per context token for each decoding sequence. A request's marginal
 * work rate is estimated from its own tokens and phase durations; over any stretch of time the
 * marginal work goes to whoever caused it and the rest, the fixed part, is split equally.
 * Defaults are those H100 figures moved to an A100: memory-bound terms (fixed, decode) scale by
 * memory bandwidth 3.35/2.0 TB/s, the compute-bound prefill term by 990/312 dense bf16 TFLOP/s.
 *
 * `time-share` splits every instant equally among active requests, whatever they do.
 */
export type Weighting =
  | {
      readonly kind: 'step-cost';
      readonly prefillMsPerToken: number;
      readonly decodeMsPerToken: number;
      readonly decodeMsPerContextToken: number;
      /**
       * Prefill attention: each prompt token's prefill costs this much more, relative to
       * prefillMsPerToken, per token already in its sequence's KV cache (prefillWork). Absent, 0:
       * prefill linear in the prompt, as in the default.
       */
      readonly prefillAttentionPerContextToken?: number;
    }
  | { readonly kind: 'time-share' };

const H100_TO_A100_COMPUTE = 990 / 312;
const H100_TO_A100_MEMORY = 3.35 / 2.0;

export const DEFAULT_WEIGHTING: Weighting = {
  kind: 'step-cost',
  prefillMsPerToken: 0.0277 * H100_TO_A100_COMPUTE,
  decodeMsPerToken: 0.0092 * H100_TO_A100_MEMORY,
  decodeMsPerContextToken: 0.0000426 * H100_TO_A100_MEMORY,
};

/**
 * The attention term a fitted weighting carries (calibrate.ts): prefill attention's cost per
 * (query, key) pair against the linear cost of one token, from the models' shapes. A token's linear
 * work is about 2 x parameters FLOPs; attending to one earlier token costs 4 x layers x query width
 * (QK and AV): 4 x 32 x 4096 / (2 x 8.03e9) = 3.3e-5 for Llama 3.1 8B, 4 x 48 x 5120 / (2 x 14.8e9)
 * = 3.3e-5 for Qwen2.5 14B. A 6,000-token prompt's attention is then about 9% of its prefill. Not a
 * measured figure of any engine; the step-cost fit (fit.ts) counts prefill tokens with it, so the
 * fitted prefill constant is the linear part.
 */
export const PREFILL_ATTENTION_PER_CONTEXT_TOKEN = 3.3e-5;

/**
 * A request's prefill work in linear-token units: its uncached prompt tokens, each costing
 * 1 + attention x (tokens before it in the sequence), the cached prefix included. A prompt of u
 * uncached tokens after c cached ones gives u x (1 + attention x (c + u / 2)), whatever the chunks:
 * a chunk of k tokens at offset o costs k x (o + k / 2) pairs, and the chunks' sums add up.
 */
export function prefillWork(
  uncachedTokens: number,
  cachedTokens: number,
  attentionPerContextToken: number,
): number {
  return uncachedTokens * (1 + attentionPerContextToken * (cachedTokens + uncachedTokens / 2));
}

/**
 * Marginal GPU work per unit of wall time (dimensionless) of a request in prefill and in decode.
 * Zero-length phases get rate 0: they cover no time, and an infinite rate would poison the sums.
 */
export function phaseRates(
  weighting: Weighting,
  request: UsageRecord,
  prefillMicros: number,
  decodeMicros: number,
): { prefill: number; decode: number } {
  if (weighting.kind === 'time-share') return { prefill: 0, decode: 0 };
  const uncachedPrompt = request.promptTokens - request.cachedPromptTokens;
  const meanContext = request.promptTokens + request.completionTokens / 2;
  const decodeMsPerToken = weighting.decodeMsPerToken + weighting.decodeMsPerContextToken * meanContext;
  return {
    prefill:
      prefillMicros > 0
        ? (prefillWork(
            uncachedPrompt,
            request.cachedPromptTokens,
            weighting.prefillAttentionPerContextToken ?? 0,
          ) *
            weighting.prefillMsPerToken *
            1000) /
          prefillMicros
        : 0,
    decode: decodeMicros > 0 ? (request.completionTokens * decodeMsPerToken * 1000) / decodeMicros : 0,
  };
}

/**
 * The marginal GPU work (ms) of a recompute after a stall (stalls.ts): the request's whole context
 * at that point, its prompt and the `tokens` it had made, prefilled again from an empty cache, with
 * attention, as vLLM's recompute preemption does (docs/accounting.md#recompute-preemption).
 */
export function recomputeWork(weighting: Weighting, request: UsageRecord, tokens: number): number {
  if (weighting.kind === 'time-share') return 0;
  return (
    prefillWork(request.promptTokens + tokens, 0, weighting.prefillAttentionPerContextToken ?? 0) *
    weighting.prefillMsPerToken
  );
}
