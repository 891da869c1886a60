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
    prefill: prefillMicros > 0 ? (uncachedPrompt * weighting.prefillMsPerToken * 1000) / prefillMicros : 0,
    decode: decodeMicros > 0 ? (request.completionTokens * decodeMsPerToken * 1000) / decodeMicros : 0,
  };
}
