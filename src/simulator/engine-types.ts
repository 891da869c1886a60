import type { Stall } from '../domain/stalls.js';

/**
 * The simulator's engine types, shared by the linear engine (engine.ts) and the vLLM-like one
 * (vllm-like.ts), which each use the other's: kept here so neither imports the other's module for
 * its types.
 */

/** A step's cost constants (ms of one GPU), as STEP_MS; an engine may run with others. */
export interface StepCosts {
  readonly base: number;
  readonly prefillPerToken: number;
  readonly decodePerToken: number;
  readonly perContextToken: number;
}

export interface EngineConfig {
  readonly stepFactor: number;
  /** Constants other than STEP_MS (a bigger model, another vLLM version); stepFactor still applies. */
  readonly costs?: StepCosts;
  readonly maxSeqs: number;
  readonly tokenBudget: number;
  /** Reference mode: no closed-form jumps, one step at a time (slow; tests compare the two). */
  readonly stepwise?: boolean;
  /**
   * Told of every step the engine takes (a closed-form jump as one span of k steps), for counters
   * such as vLLM's Prometheus metrics (src/simulator/vllm-metrics.ts). Not set: nothing is built.
   */
  readonly onSteps?: (span: StepSpan) => void;
  /**
   * Runs the vLLM-like engine instead (src/simulator/vllm-like.ts: attention that grows with
   * context, CUDA-graph padding, recompute preemption) with these constants; `costs` is then unused.
   */
  readonly vllmLike?: VllmLikeCosts;
}

/**
 * Consecutive engine steps, as an observer sees them. Step j (from 0) lasts firstMs + slopeMs x j
 * (in a pure-decode stretch every context grows by one token a step) and ends at
 * start + the durations of steps 0..j.
 */
export interface StepSpan {
  /** When the first step began, ms since the start of the simulated day. */
  readonly start: number;
  readonly steps: number;
  readonly firstMs: number;
  readonly slopeMs: number;
  /** Sequences past their first token in each step: each makes one token, an inter-token gap of the step's duration. */
  readonly decoding: number;
  /** Prompt tokens (cached included) of the requests whose prefill ended in the span (only when steps is 1). */
  readonly promptTokens: number;
  /** First tokens made in the span (only when steps is 1): prefills ended with a token. */
  readonly firstTokens: number;
  /** Prompt tokens computed in the span (chunks of prefill, cached tokens left out). */
  readonly prefillTokens: number;
}

/** A request as the engine sees it; the engine fills in the outcome fields. */
export interface EngineRequest {
  /** Milliseconds since the start of the simulated day. */
  readonly arrival: number;
  readonly promptTokens: number;
  readonly cachedPromptTokens: number;
  /** Tokens it will generate before it ends (for an error or abort, fewer than asked). */
  readonly target: number;
  /** Refused before reaching the engine (a 4xx): no GPU time at all. */
  readonly refused: boolean;
  scheduledAt: number | undefined;
  firstTokenAt: number | undefined;
  finishedAt: number;
  produced: number;
  /** GPU milliseconds of one GPU this request caused (multiply by the pod's GPUs). */
  gpuMs: number;
  /** The stalls its stream showed (domain/stalls.ts), as a sidecar measures them; absent: none. */
  stalls?: readonly Stall[];
}

/** The vLLM-like engine's constants (vllm-like.ts). */
export interface VllmLikeCosts {
  readonly base: number;
  readonly prefillPerToken: number;
  /** Extra ms per (chunk token x attended token): the c x (o + c/2) term. */
  readonly attentionPerTokenPair: number;
  readonly decodePerToken: number;
  readonly perContextToken: number;
  /** KV-cache capacity in tokens; more running context than this preempts the newest sequence. */
  readonly kvCacheTokens: number;
}
