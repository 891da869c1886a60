import { hash53 } from '../hash.js';
import type { UsageRecord } from '../records.js';

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

export interface WorkloadSample {
  /**
   * The events chosen, in the order of their hash; then those added to reach each group's floor,
   * group by group. An event of a group smaller than the floor appears more than once.
   */
  readonly chosen: readonly UsageRecord[];
  /** Requests added beyond `size` so that every (feature, requestClass) reaches the floor. */
  readonly added: number;
  /** The model's completed generations the sample was drawn from. */
  readonly eligible: number;
  /** The model's `ok` events left out because they generated nothing (pooling, embeddings). */
  readonly notGenerations: number;
}

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
 * with fewer events than the floor has them repeated, in the same order.
 */
export function sampleWorkload(
  usage: readonly UsageRecord[],
  model: string,
  size: number,
  seed?: string,
  perGroup = 0,
): WorkloadSample {
  if (!Number.isInteger(perGroup) || perGroup < 0)
    throw new RangeError(`the floor per group must be a whole number >= 0, got ${perGroup}`);
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`sample size must be a whole number >= 1, got ${size}`);
  let notGenerations = 0;
  const keyed: { readonly key: number; readonly record: UsageRecord }[] = [];
  for (const record of usage) {
    if (record.model !== model || record.status !== 'ok') continue;
    if (record.completionTokens === 0) {
      notGenerations += 1;
      continue;
    }
    keyed.push({ key: hash53(seed === undefined ? record.eventId : `${seed}:${record.eventId}`), record });
  }
  keyed.sort(
    (a, b) =>
      a.key - b.key ||
      (a.record.eventId < b.record.eventId ? -1 : a.record.eventId > b.record.eventId ? 1 : 0),
  );
  const chosen = keyed.slice(0, size).map((k) => k.record);
  const added = topUp(
    chosen,
    keyed.map((k) => k.record),
    perGroup,
  );
  return { chosen, added, eligible: keyed.length, notGenerations };
}

/** Appends to `chosen` what each group of `ordered` needs to reach `floor`; returns how many. */
function topUp(chosen: UsageRecord[], ordered: readonly UsageRecord[], floor: number): number {
  if (floor === 0) return 0;
  const groupOf = (r: UsageRecord): string => JSON.stringify([r.feature, r.requestClass]);
  const have = new Map<string, number>();
  for (const r of chosen) have.set(groupOf(r), (have.get(groupOf(r)) ?? 0) + 1);
  const groups = new Map<string, UsageRecord[]>();
  for (const r of ordered) {
    const list = groups.get(groupOf(r));
    if (list === undefined) groups.set(groupOf(r), [r]);
    else list.push(r);
  }
  const taken = new Set(chosen);
  let added = 0;
  for (const [group, records] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let count = have.get(group) ?? 0;
    // Those not sampled yet first, then the group again from its start.
    const next = [...records.filter((r) => !taken.has(r)), ...records];
    for (let i = 0; count < floor; i += 1, count += 1, added += 1) {
      const record = next[i % next.length];
      if (record === undefined) break;
      chosen.push(record);
    }
  }
  return added;
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
