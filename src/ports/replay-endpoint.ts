import type { ReplayRequest } from '../domain/replay/workload.js';

/** What one replayed request came to. */
export type ReplayAnswer =
  | {
      readonly ok: true;
      /** The completion tokens the answer's usage reports, when it reports them. */
      readonly completionTokens?: number;
    }
  | {
      readonly ok: false;
      /** A short label that groups failures in the summary: `HTTP 503`, `timed out`, `connection reset`. */
      readonly kind: string;
      /** The first words of the failure, for a person. */
      readonly detail: string;
      /**
       * The connection was refused before any byte of the request left: the server saw nothing and
       * metered nothing, so sending it again cannot count it twice.
       */
      readonly refused: boolean;
    };

/** The OpenAI-compatible endpoint (the sidecar in front of vLLM) a workload is replayed through. */
export interface ReplayEndpoint {
  /** One try; never throws for the endpoint's own failures, and ends when `signal` aborts. */
  send(request: ReplayRequest, signal: AbortSignal): Promise<ReplayAnswer>;
}
