import type { CaseRequest } from '../domain/evaluation/prompt.js';

/** Who a harness request is charged to: the headers the sidecar reads (contracts.md §13). */
export interface RequestAttribution {
  readonly tenant: string;
  readonly feature: string;
  readonly requestClass: string;
}

/** One attempt's answer, or why it failed and whether another attempt may succeed. */
export type AttemptResult =
  | {
      readonly ok: true;
      readonly text: string;
      readonly promptTokens?: number;
      readonly completionTokens?: number;
      readonly finishReason?: string;
    }
  | {
      readonly ok: false;
      readonly reason: string;
      /** 429, 5xx, a timeout or a dropped connection: yes; a 4xx or an answer that is not one: no. */
      readonly retryable: boolean;
      /** What a Retry-After header asked for, in milliseconds. */
      readonly retryAfterMs?: number;
    };

/** An OpenAI-compatible endpoint the harness sends a case to (through the sidecar). */
export interface CompletionEndpoint {
  /** One attempt; never throws for the endpoint's own failures, and ends when `signal` aborts. */
  attempt(
    request: CaseRequest,
    attribution: RequestAttribution,
    requestId: string,
    signal: AbortSignal,
  ): Promise<AttemptResult>;
}
