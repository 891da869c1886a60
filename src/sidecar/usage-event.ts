import { randomUUID } from 'node:crypto';
import { formatStalls, type Stall } from '../domain/stalls.js';
import type { Attribution } from './attribution.js';
import type { PodIdentity } from './proxy-deps.js';
import type { Counted, EngineMetrics } from './tally.js';

export interface Outcome {
  readonly requestId: string;
  readonly who: Attribution;
  readonly model: string;
  readonly identity: PodIdentity;
  readonly startedAt: number;
  readonly finishedAt: number;
  /** When the sidecar saw the first generated output of a stream. */
  readonly firstTokenAt: number | undefined;
  /** The answer's counts; undefined when vLLM never answered (or answered an error status). */
  readonly counted: Counted | undefined;
  /** Why the sidecar could not meter the answer as the engine reported it, if so. */
  readonly metering: string | undefined;
  readonly status: 'ok' | 'error' | 'aborted';
  readonly httpStatus: number;
  /** What a spend budget did to the request: refused (429) or demoted (served as batch). */
  readonly budget?: 'refused' | 'demoted' | 'unavailable';
  /** How many requests the pod worked on, on average, over this one's life (concurrency.ts). */
  readonly meanConcurrency?: number;
  /** The stalls of a streamed answer (domain/stalls.ts), instants on the sidecar's clock. */
  readonly stalls?: readonly Stall[] | undefined;
}

const finite = (n: number | null | undefined): n is number =>
  typeof n === 'number' && Number.isFinite(n) && n >= 0;

/**
 * When the first token came, by vLLM's own timings where it gave them (`--enable-per-request-metrics`),
 * else by the sidecar's clock. vLLM's time to first token runs from the request's scheduling, not
 * its arrival, so the first token is placed back from the end, by the generation time (first to
 * last token), where that is known; otherwise after the queue and the time to first token.
 */
function firstToken(o: Outcome, m: EngineMetrics | undefined): number | null {
  const own = o.firstTokenAt ?? null;
  if (m === undefined || o.status !== 'ok' || (o.counted?.completionTokens ?? 0) === 0) return own;
  let engine: number | undefined;
  if (finite(m.generation_time_ms)) engine = o.finishedAt - m.generation_time_ms;
  else if (finite(m.time_to_first_token_ms))
    engine = o.startedAt + (finite(m.queue_time_ms) ? m.queue_time_ms : 0) + m.time_to_first_token_ms;
  if (engine === undefined) return own;
  return Math.min(o.finishedAt, Math.max(o.startedAt, engine));
}

/**
 * Stalls measured from the sidecar's first token, made relative to the event's (vLLM's timings put
 * it `shift` ms earlier or later): the allocation reads them from the event's firstTokenAt.
 */
function rebased(stalls: readonly Stall[], shift: number): Stall[] {
  return stalls.map((s) => ({ ...s, atMs: Math.max(0, s.atMs + shift) }));
}

/** The usage event of contracts.md §2 for one request. */
export function usageEvent(o: Outcome): Record<string, unknown> {
  const c = o.counted;
  const m = c?.metrics;
  const first = firstToken(o, m);
  const prompt = c?.promptTokens ?? 0;
  const event: Record<string, unknown> = {
    type: 'usage',
    schemaVersion: 1,
    eventId: randomUUID(),
    requestId: o.requestId,
    tenant: o.who.tenant,
    feature: o.who.feature,
    model: o.model,
    requestClass: o.who.requestClass,
    pod: o.identity.pod,
    gpuSku: o.identity.gpuSku,
    gpuCount: o.identity.gpuCount,
    startedAt: new Date(o.startedAt).toISOString(),
    firstTokenAt: first === null ? null : new Date(Math.max(first, o.startedAt)).toISOString(),
    finishedAt: new Date(Math.max(o.finishedAt, o.startedAt)).toISOString(),
    promptTokens: prompt,
    completionTokens: c?.completionTokens ?? 0,
    cachedPromptTokens: Math.min(prompt, c?.cachedPromptTokens ?? 0),
    status: o.status,
    httpStatus: o.httpStatus,
  };
  if (finite(m?.queue_time_ms)) event.queueMs = m.queue_time_ms;
  const attributes = meteringAttributes(o, first);
  if (attributes !== undefined) event.attributes = attributes;
  return event;
}

/**
 * What a reader of the event must know about its counts (contracts.md §2 attributes, string to string):
 * - `usage`: `streamed` when the counts were taken from what was streamed (a lower bound: the
 *   engine's totals never came), `none` when nothing could be counted;
 * - `cachedPromptTokens`: `unknown` when the prompt's cached count never came (it is in vLLM's last
 *   usage only): the prompt tokens are then charged as uncached, and the event says so;
 * - `promptTokens`: `unknown` when the prompt count never came (a Responses stream cut early);
 * - `metering`: the reason the sidecar metered a 2xx answer as an error;
 * - `unreadStreamEvents`: events over the size bound, relayed unread;
 * - `audioSeconds`: the audio an audio answer reports in seconds instead of tokens;
 * - `budget`: `refused` (429, over a budget), `demoted` (served as batch), `unavailable` (503, no
 *   fresh budget state and the sidecar fails closed);
 * - `meanConcurrency`: how many requests the pod worked on, on average, over this one's life (two
 *   decimals), for the spend budgets' estimate; only on answers vLLM gave, by a sidecar that
 *   enforces budgets;
 * - `stalls`: the stalls of a streamed answer (domain/stalls.ts: `atMs/gapMs/tokens`, comma
 *   separated), where its stream showed any: the allocation charges each a recompute.
 */
function meteringAttributes(o: Outcome, first: number | null): Record<string, string> | undefined {
  const c = o.counted;
  const out: Record<string, string> = {};
  if (o.budget !== undefined) out.budget = o.budget;
  if (c !== undefined && o.meanConcurrency !== undefined) out.meanConcurrency = o.meanConcurrency.toFixed(2);
  if (c === undefined) return Object.keys(out).length === 0 ? undefined : out;
  if (c.source !== 'reported') out.usage = c.source;
  if (c.cachedPromptTokens === undefined) out.cachedPromptTokens = 'unknown';
  if (!c.promptKnown) out.promptTokens = 'unknown';
  if (o.metering !== undefined) out.metering = o.metering;
  if (c.unreadEvents > 0) out.unreadStreamEvents = String(c.unreadEvents);
  if (c.audioSeconds !== undefined) out.audioSeconds = String(c.audioSeconds);
  if (o.stalls !== undefined && o.stalls.length > 0 && first !== null)
    out.stalls = formatStalls(rebased(o.stalls, (o.firstTokenAt ?? first) - first));
  return Object.keys(out).length === 0 ? undefined : out;
}
