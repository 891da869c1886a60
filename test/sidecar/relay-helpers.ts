import { SseRelay } from '../../src/sidecar/relay.js';
import { UsageTally } from '../../src/sidecar/tally.js';

/** A relay of a chat stream, with its own tally. */
export function chatRelay(
  client: { readonly usage: boolean; readonly continuousUsage: boolean },
  now: () => number,
): SseRelay {
  return new SseRelay(new UsageTally('chat'), client, now);
}

/** The counts of a relay's tally, or of a usage object, to compare them. */
export function counts(
  from:
    | SseRelay
    | { promptTokens: number; completionTokens: number; cachedPromptTokens: number | undefined }
    | {
        prompt_tokens: number;
        completion_tokens: number;
        prompt_tokens_details?: { cached_tokens?: number };
      },
): { prompt: number; completion: number; cached: number | undefined } {
  if (from instanceof SseRelay) return counts(from.tally.result());
  if ('promptTokens' in from)
    return { prompt: from.promptTokens, completion: from.completionTokens, cached: from.cachedPromptTokens };
  return {
    prompt: from.prompt_tokens,
    completion: from.completion_tokens,
    cached: from.prompt_tokens_details?.cached_tokens,
  };
}
