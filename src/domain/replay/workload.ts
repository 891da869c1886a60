import { hash53 } from '../hash.js';
import type { UsageRecord } from '../records.js';
import { WorkloadSampler, type SampledWorkload } from './sampler.js';

/**
 * A workload replayed through a canary and through the version in service, so the release cost
 * gate (contracts.md §11) compares the engine's cost of the same work. Events carry no text, only
 * the shape of each request: who it was for, how long its prompt was and how many tokens it
 * generated. The sample is a pure function of the events, so two replays of the same file send
 * exactly the same requests.
 */
export type ReplayApi = 'chat' | 'completions';

export interface ReplayAttribution {
  readonly tenant: string;
  readonly feature: string;
  readonly requestClass: string;
}

/** One request to send: the route, the sidecar's attribution, the body, an id shared by both replays. */
export interface ReplayRequest {
  readonly eventId: string;
  readonly requestId: string;
  readonly path: '/v1/chat/completions' | '/v1/completions';
  readonly attribution: ReplayAttribution;
  readonly completionTokens: number;
  readonly body: Readonly<Record<string, unknown>>;
}

export type WorkloadSample = SampledWorkload;

/**
 * `size` of the model's `ok` usage events that generated tokens: those whose eventId has the
 * smallest hash (with `seed`, the hash of `seed:eventId`), ties broken by the eventId. A request
 * that failed or was aborted is not the workload's shape; one that generated nothing (an
 * embedding, a pooling call) is not a generation the chat or completions route can repeat.
 *
 * Then every (feature, requestClass) of the model gets at least `perGroup` requests: the cost
 * gate measures each group it projects and fails closed on one measured fewer than its
 * `--min-requests` times, and a uniform sample of a day leaves its small groups (a nightly suite,
 * a feature in pilot) short. A group is topped up with its next events in hash order; a group
 * with fewer events than the floor has them repeated, in the same order. The events are taken one
 * at a time (sampler.ts), so a day is sampled in the memory of its sample.
 */
export function sampleWorkload(
  usage: Iterable<UsageRecord>,
  model: string,
  size: number,
  seed?: string,
  perGroup = 0,
): WorkloadSample {
  const sampler = new WorkloadSampler(model, size, seed, perGroup);
  for (const record of usage) sampler.add(record);
  return sampler.result();
}

/** The byte-pair tokenizers of the models served (Llama, Qwen) read this word as one token. */
const WORD = ' the';

/**
 * A prompt of about `tokens` tokens: a tag unique to the event, then a common word repeated. The
 * tag comes first so that vLLM's prefix cache, which shares blocks only from the start of a
 * prompt, finds nothing in common between two replayed requests: the replay measures uncached
 * prefill for both versions alike. The chat template and the tag add a few tokens.
 */
export function syntheticPrompt(tokens: number, eventId: string): string {
  const tag = `r${hash53(eventId).toString(36)}`;
  return `${tag}:${WORD.repeat(Math.max(0, tokens - 1))}`;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,120}$/;

/**
 * The request that repeats one event: its tenant, feature and class for the sidecar, a prompt of
 * its length, and exactly its completion length. `ignore_eos` and `min_tokens` (vLLM's sampling
 * parameters) make both versions generate `max_tokens` tokens whatever they would say: the gate
 * compares the engine's cost of the same work, and a change of verbosity is the quality harness's
 * business. Greedy (temperature 0), not streamed.
 */
export function replayRequest(
  record: UsageRecord,
  model: string,
  api: ReplayApi,
  /** Bills every request to this tenant instead of the event's (the gate sums over tenants). */
  tenant?: string,
  /** Which sending of the event this is (a small group's events are sent more than once): 1, 2, ... */
  copy = 1,
): ReplayRequest {
  const prompt = syntheticPrompt(
    record.promptTokens,
    copy === 1 ? record.eventId : `${record.eventId}#${copy}`,
  );
  const length = record.completionTokens;
  const id = REQUEST_ID.test(record.eventId) ? record.eventId : hash53(record.eventId).toString(36);
  return {
    eventId: record.eventId,
    // The same X-Request-Id in both replays, so a request of one is found in the other.
    requestId: copy === 1 ? `replay-${id}` : `replay-${id}-${copy}`,
    path: api === 'chat' ? '/v1/chat/completions' : '/v1/completions',
    attribution: {
      tenant: tenant ?? record.tenant,
      feature: record.feature,
      requestClass: record.requestClass,
    },
    completionTokens: length,
    body: {
      model,
      ...(api === 'chat' ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
      max_tokens: length,
      min_tokens: length,
      ignore_eos: true,
      temperature: 0,
      stream: false,
    },
  };
}
