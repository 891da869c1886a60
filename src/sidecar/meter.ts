import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { attribute, type Attribution } from './attribution.js';
import { forwardHeaders, forwardResponseHeaders, jsonError, writeWithBackpressure } from './http.js';
import type { PodIdentity, ProxyDeps } from './proxy.js';
import { SseRelay, type EngineMetrics, type Usage } from './relay.js';

const MAX_BODY = 32 * 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A completion request: attributed, forwarded with usage asked for, relayed, and metered as one usage event. */
export function meter(req: IncomingMessage, res: ServerResponse, deps: ProxyDeps, pool: Dispatcher): void {
  const arrived = performance.now();
  const startedAt = (deps.now ?? Date.now)();
  const who = attribute(req.headers, deps.rules);
  if ('error' in who) {
    deps.metrics.requests.inc({ request_class: deps.rules.defaultClass, status: 'rejected' });
    req.resume();
    jsonError(res, 400, who.error);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY) {
      deps.metrics.requests.inc({ request_class: who.requestClass, status: 'rejected' });
      jsonError(res, 413, `request body over ${MAX_BODY} bytes`);
      return;
    }
    forward(Buffer.concat(chunks), req, res, { deps, pool, who, startedAt, arrived });
  });
}

interface Call {
  readonly deps: ProxyDeps;
  readonly pool: Dispatcher;
  readonly who: Attribution;
  readonly startedAt: number;
  readonly arrived: number;
}

interface Rewritten {
  readonly payload: Buffer;
  readonly stream: boolean;
  readonly model: string | undefined;
  readonly client: { readonly usage: boolean; readonly continuousUsage: boolean };
}

/** Asks vLLM for usage on every chunk (so an aborted stream still has its counts) and sets the priority. */
function rewrite(raw: Buffer, priority: number | undefined): Rewritten {
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      body = parsed as Record<string, unknown>;
  } catch {
    body = undefined; // vLLM will answer 400; the attempt is still metered
  }
  const stream = body?.stream === true;
  const asked = (body?.stream_options ?? {}) as { include_usage?: unknown; continuous_usage_stats?: unknown };
  const client = {
    usage: asked.include_usage === true,
    continuousUsage: asked.continuous_usage_stats === true,
  };
  const model = typeof body?.model === 'string' && body.model !== '' ? body.model : undefined;
  if (body === undefined || (!stream && priority === undefined))
    return { payload: raw, stream, model, client };
  if (stream) body.stream_options = { ...asked, include_usage: true, continuous_usage_stats: true };
  if (priority !== undefined) body.priority = priority;
  return { payload: Buffer.from(JSON.stringify(body)), stream, model, client };
}

function forward(raw: Buffer, req: IncomingMessage, res: ServerResponse, call: Call): void {
  const { deps, who, startedAt } = call;
  const now = deps.now ?? Date.now;
  const clientId = req.headers['x-request-id'];
  const requestId = typeof clientId === 'string' && REQUEST_ID.test(clientId) ? clientId : randomUUID();
  const { payload, stream, model, client } = rewrite(raw, deps.priorities.get(who.requestClass));
  const relay = stream ? new SseRelay(client, now) : undefined;
  const body: Buffer[] = [];
  let usage: Usage | undefined;
  let metrics: EngineMetrics | undefined;
  let upstreamStatus = 0;
  let relaying = false;
  let finished = false;
  let clientGone = false;
  let wroteBody = false;
  let controller: Dispatcher.DispatchController | undefined;
  let beforeUpstream = 0;

  const finish = (status: 'ok' | 'error' | 'aborted', httpStatus: number): void => {
    if (finished) return;
    finished = true;
    if (relay !== undefined) {
      usage = relay.usage;
      metrics = relay.metrics;
    }
    deps.emit(
      usageEvent({
        requestId,
        who,
        model: model ?? deps.identity.model,
        identity: deps.identity,
        startedAt,
        finishedAt: now(),
        firstTokenAt: relay?.firstTokenAt,
        stream,
        usage,
        metrics,
        status,
        httpStatus,
      }),
    );
    deps.metrics.requests.inc({ request_class: who.requestClass, status });
  };

  const send = (ctl: Dispatcher.DispatchController, data: string | Buffer): void => {
    if (data.length === 0) return;
    writeWithBackpressure(res, ctl, data);
    if (!wroteBody) {
      wroteBody = true;
      deps.metrics.addedLatency.observe((beforeUpstream + (performance.now() - relayStarted)) / 1000);
    }
  };
  let relayStarted = 0;

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(ctl) {
      controller = ctl;
      if (clientGone) ctl.abort(new Error('the client went away'));
    },
    onResponseStart(_ctl, status, headers) {
      if (status < 200) return; // 1xx: the real answer follows
      upstreamStatus = status;
      relaying = relay !== undefined && status < 400;
      const out = forwardResponseHeaders(headers, !relaying);
      out['x-request-id'] = requestId;
      res.writeHead(status, out);
      relayStarted = performance.now();
      // The headers leave with the first body bytes when both came in one read; otherwise at once,
      // so a client sees the response start while vLLM is still queueing or prefilling.
      process.nextTick(() => {
        if (!wroteBody && !res.destroyed && !res.writableEnded) res.flushHeaders();
      });
    },
    onResponseData(ctl, chunk) {
      if (relaying && relay !== undefined) {
        send(ctl, relay.push(chunk));
      } else {
        body.push(chunk);
        send(ctl, chunk);
      }
    },
    onResponseEnd(ctl) {
      if (relaying && relay !== undefined) send(ctl, relay.end());
      else readPlainBody();
      res.end();
      const failed =
        upstreamStatus >= 400 || relay?.sawError === true || (relaying && relay?.sawDone !== true);
      finish(failed ? 'error' : 'ok', upstreamStatus);
    },
    onResponseError(_ctl, error) {
      if (finished) return;
      if (clientGone) {
        finish('aborted', 499);
      } else if (upstreamStatus === 0) {
        jsonError(res, 502, `upstream unavailable: ${error.message}`);
        finish('error', 502);
      } else {
        // vLLM went away mid-response: a truncated answer is an error, with the counts so far.
        finish('error', upstreamStatus);
        res.destroy();
      }
    },
  };

  /** Usage and metrics of a plain (not streamed) answer, or of an error body. */
  function readPlainBody(): void {
    try {
      const json = JSON.parse(Buffer.concat(body).toString('utf8')) as {
        usage?: Usage;
        metrics?: EngineMetrics;
      };
      usage = json.usage ?? undefined;
      metrics = json.metrics ?? undefined;
    } catch {
      // an error page: no usage to read
    }
  }

  res.on('close', () => {
    if (res.writableFinished || finished) return;
    // The client went away: stop the generation upstream and charge what was produced so far.
    clientGone = true;
    finish('aborted', 499);
    controller?.abort(new Error('the client went away'));
  });
  try {
    call.pool.dispatch(
      {
        path: req.url ?? '/',
        method: 'POST',
        headers: { ...forwardHeaders(req.headers), 'x-request-id': requestId },
        body: payload,
      },
      handler,
    );
  } catch (error) {
    handler.onResponseError?.(controller as Dispatcher.DispatchController, error as Error);
  }
  beforeUpstream = performance.now() - call.arrived;
}

interface Outcome {
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

const count = (n: number | undefined): number => Math.max(0, Math.trunc(n ?? 0));

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
