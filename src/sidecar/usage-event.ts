import { randomUUID } from 'node:crypto';
import type { Attribution } from './attribution.js';
import type { PodIdentity } from './proxy-deps.js';
import type { EngineMetrics, Usage } from './relay.js';

export interface Outcome {
  readonly requestId: string;
  readonly who: Attribution;
  readonly model: string;
  readonly identity: PodIdentity;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly firstTokenAt: number | undefined;
  readonly stream: boolean;
  readonly usage: Usage | undefined;
  readonly metrics: EngineMetrics | undefined;
  readonly status: 'ok' | 'error' | 'aborted';
  readonly httpStatus: number;
}

const count = (n: unknown): number =>
  typeof n === 'number' && Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : 0;

/** The usage event of SPEC 2 for one request. */
export function usageEvent(o: Outcome): Record<string, unknown> {
  let first = o.firstTokenAt ?? null;
  const m = o.metrics;
  if (!o.stream && first === null && o.status === 'ok' && m?.time_to_first_token_ms != null) {
    // Not streamed: vLLM's own timings place the first token (queue + time to first token).
    first = Math.min(o.finishedAt, o.startedAt + (m.queue_time_ms ?? 0) + m.time_to_first_token_ms);
  }
  const prompt = count(o.usage?.prompt_tokens);
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
    completionTokens: count(o.usage?.completion_tokens),
    cachedPromptTokens: Math.min(prompt, count(o.usage?.prompt_tokens_details?.cached_tokens)),
    status: o.status,
    httpStatus: o.httpStatus,
  };
  if (typeof m?.queue_time_ms === 'number' && m.queue_time_ms >= 0) event.queueMs = m.queue_time_ms;
  return event;
}
