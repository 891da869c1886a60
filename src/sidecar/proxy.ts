import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { attribute, type Attribution, type AttributionRules } from './attribution.js';
import type { SidecarMetrics } from './metrics.js';
import { eventData, SseSplitter } from './sse.js';

export interface PodIdentity {
  readonly pod: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly model: string;
}

export interface ProxyDeps {
  readonly upstream: URL;
  readonly rules: AttributionRules;
  readonly priorities: ReadonlyMap<string, number>;
  readonly identity: PodIdentity;
  readonly emit: (event: Record<string, unknown>) => void;
  readonly metrics: SidecarMetrics;
  readonly now?: () => number;
}

const METERED = new Set(['/v1/chat/completions', '/v1/completions']);
const MAX_BODY = 32 * 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'content-length',
]);

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}
interface Metrics {
  queue_time_ms?: number | null;
  time_to_first_token_ms?: number | null;
}

/** The metering reverse proxy: one usage event per completion request, everything else passed through. */
export function createProxy(deps: ProxyDeps): {
  server: Server;
  inFlight: () => number;
  idle: () => Promise<void>;
} {
  const agent = new Agent({ keepAlive: true, maxSockets: 2048 });
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const done = (): void => {
    inFlight -= 1;
    if (inFlight === 0) {
      for (const w of waiters) w();
      waiters = [];
    }
  };
  // No Nagle on either side: small SSE chunks must leave at once, not wait for an ACK (40 ms).
  const server = createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    inFlight += 1;
    res.once('close', done);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'POST' && METERED.has(path)) meter(req, res, deps, agent);
    else passThrough(req, res, deps.upstream, agent);
  });
  server.keepAliveTimeout = 65_000;
  return {
    server,
    inFlight: () => inFlight,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}

function forwardHeaders(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers))
    if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  return out;
}

function passThrough(req: IncomingMessage, res: ServerResponse, upstream: URL, agent: Agent): void {
  const up = httpRequest(
    new URL(req.url ?? '/', upstream),
    {
      method: req.method,
      headers: {
        ...forwardHeaders(req.headers),
        ...(req.headers['content-length'] === undefined
          ? {}
          : { 'content-length': req.headers['content-length'] }),
      },
      agent,
    },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, forwardHeaders(upRes.headers));
      upRes.pipe(res);
    },
  );
  up.on('error', () => {
    if (!res.headersSent) jsonError(res, 502, 'upstream unavailable');
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}

function jsonError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code: status } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function meter(req: IncomingMessage, res: ServerResponse, deps: ProxyDeps, agent: Agent): void {
  const now = deps.now ?? Date.now;
  const arrived = performance.now();
  const startedAt = now();
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
    forward(Buffer.concat(chunks), req, res, deps, agent, who, startedAt, arrived);
  });
}

function forward(
  raw: Buffer,
  req: IncomingMessage,
  res: ServerResponse,
  deps: ProxyDeps,
  agent: Agent,
  who: Attribution,
  startedAt: number,
  arrived: number,
): void {
  const now = deps.now ?? Date.now;
  const clientId = req.headers['x-request-id'];
  const requestId = typeof clientId === 'string' && REQUEST_ID.test(clientId) ? clientId : randomUUID();
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
  const clientUsage = asked.include_usage === true;
  const clientContinuous = asked.continuous_usage_stats === true;
  let rewritten = false;
  if (body !== undefined) {
    // Ask for usage on every chunk, so that an aborted stream still has its counts so far.
    if (stream) {
      body.stream_options = { ...asked, include_usage: true, continuous_usage_stats: true };
      rewritten = true;
    }
    const priority = deps.priorities.get(who.requestClass);
    if (priority !== undefined) {
      body.priority = priority;
      rewritten = true;
    }
  }
  const payload = body !== undefined && rewritten ? Buffer.from(JSON.stringify(body)) : raw;
  const model = typeof body?.model === 'string' && body.model !== '' ? body.model : deps.identity.model;

  let firstTokenAt: number | undefined;
  let usage: Usage | undefined;
  let metrics: Metrics | undefined;
  let sawError = false;
  let sawDone = false;
  let upstreamStatus = 0;
  let finished = false;
  let beforeUpstream = 0;

  const finish = (status: 'ok' | 'error' | 'aborted', httpStatus: number): void => {
    if (finished) return;
    finished = true;
    const finishedAt = now();
    let first = firstTokenAt ?? null;
    if (!stream && first === null && status === 'ok' && metrics?.time_to_first_token_ms != null) {
      // Not streamed: vLLM's own timings place the first token (queue + time to first token).
      first = Math.min(finishedAt, startedAt + (metrics.queue_time_ms ?? 0) + metrics.time_to_first_token_ms);
    }
    const prompt = Math.max(0, Math.trunc(usage?.prompt_tokens ?? 0));
    const event: Record<string, unknown> = {
      type: 'usage',
      schemaVersion: 1,
      eventId: randomUUID(),
      requestId,
      tenant: who.tenant,
      feature: who.feature,
      model,
      requestClass: who.requestClass,
      pod: deps.identity.pod,
      gpuSku: deps.identity.gpuSku,
      gpuCount: deps.identity.gpuCount,
      startedAt: new Date(startedAt).toISOString(),
      firstTokenAt: first === null ? null : new Date(Math.max(first, startedAt)).toISOString(),
      finishedAt: new Date(Math.max(finishedAt, startedAt)).toISOString(),
      promptTokens: prompt,
      completionTokens: Math.max(0, Math.trunc(usage?.completion_tokens ?? 0)),
      cachedPromptTokens: Math.min(
        prompt,
        Math.max(0, Math.trunc(usage?.prompt_tokens_details?.cached_tokens ?? 0)),
      ),
      status,
      httpStatus,
    };
    if (typeof metrics?.queue_time_ms === 'number' && metrics.queue_time_ms >= 0)
      event.queueMs = metrics.queue_time_ms;
    deps.emit(event);
    deps.metrics.requests.inc({ request_class: who.requestClass, status });
  };

  const up = httpRequest(
    {
      protocol: deps.upstream.protocol,
      hostname: deps.upstream.hostname,
      port: deps.upstream.port,
      path: req.url ?? '/',
      method: 'POST',
      headers: {
        ...forwardHeaders(req.headers),
        'content-length': payload.length,
        'x-request-id': requestId,
      },
      agent,
    },
    (upRes) => {
      upstreamStatus = upRes.statusCode ?? 502;
      const headers = forwardHeaders(upRes.headers);
      headers['x-request-id'] = requestId;
      const relayStream = stream && upstreamStatus < 400;
      if (!relayStream && upRes.headers['content-length'] !== undefined)
        headers['content-length'] = upRes.headers['content-length'];
      res.writeHead(upstreamStatus, headers);
      // A stream's headers go now (the client sees the response start); a plain body goes with them.
      if (relayStream) res.flushHeaders();
      const relayStarted = performance.now();
      let firstByte = true;
      const write = (data: string | Buffer): void => {
        if (res.destroyed) return;
        res.write(data);
        if (firstByte) {
          firstByte = false;
          deps.metrics.addedLatency.observe((beforeUpstream + (performance.now() - relayStarted)) / 1000);
        }
      };
      if (relayStream) {
        const splitter = new SseSplitter();
        upRes.setEncoding('utf8');
        upRes.on('data', (chunk: string) => {
          const out: string[] = [];
          for (const event of splitter.push(chunk)) {
            const kept = relayEvent(event);
            if (kept !== undefined) out.push(`${kept}\n\n`);
          }
          if (out.length > 0) write(out.join(''));
        });
      } else {
        const parts: Buffer[] = [];
        upRes.on('data', (chunk: Buffer) => {
          parts.push(chunk);
          write(chunk);
        });
        upRes.on('end', () => {
          try {
            const json = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
              usage?: Usage;
              metrics?: Metrics;
            };
            usage = json.usage ?? undefined;
            metrics = json.metrics ?? undefined;
          } catch {
            // an error page or a stream refused with 4xx: no usage to read
          }
        });
      }
      upRes.on('end', () => {
        res.end();
        const failed = upstreamStatus >= 400 || sawError || (relayStream && !sawDone);
        finish(failed ? 'error' : 'ok', upstreamStatus);
      });
      upRes.on('error', () => undefined);
      upRes.on('close', () => {
        if (!upRes.complete && !finished) {
          // vLLM went away mid-response: a truncated stream is an error, with the counts so far.
          finish(res.destroyed ? 'aborted' : 'error', upstreamStatus);
          res.destroy();
        }
      });
    },
  );

  /** Keeps, rewrites or drops one SSE event; notes usage, metrics, errors and the first token. */
  function relayEvent(event: string): string | undefined {
    const data = eventData(event);
    if (data === '[DONE]') {
      sawDone = true;
      return event;
    }
    if (typeof data !== 'object' || data === null) return event;
    const chunk = data as {
      choices?: { delta?: { content?: string | null; tool_calls?: unknown[] }; text?: string }[];
      usage?: Usage | null;
      metrics?: Metrics;
      error?: unknown;
    };
    if (chunk.error !== undefined) sawError = true;
    if (chunk.usage != null) usage = chunk.usage;
    if (chunk.metrics !== undefined) metrics = chunk.metrics;
    const choices = chunk.choices ?? [];
    if (firstTokenAt === undefined) {
      const produced = choices.some(
        (c) =>
          (c.delta?.content ?? '') !== '' || (c.text ?? '') !== '' || (c.delta?.tool_calls?.length ?? 0) > 0,
      );
      if (produced || (chunk.usage?.completion_tokens ?? 0) > 0) firstTokenAt = (deps.now ?? Date.now)();
    }
    if (chunk.usage == null) return event;
    const finalUsage = choices.length === 0;
    if (finalUsage) return clientUsage ? event : undefined; // the usage chunk the client did not ask for
    if (clientContinuous) return event;
    // A content chunk carrying usage only because we asked for it: strip the usage, keep the content.
    const { usage: _usage, ...rest } = chunk;
    return `data: ${JSON.stringify(rest)}`;
  }

  up.on('error', (error) => {
    if (finished) return;
    if (!res.headersSent) jsonError(res, 502, `upstream unavailable: ${error.message}`);
    else res.destroy();
    finish(
      res.destroyed && upstreamStatus !== 0 ? 'aborted' : 'error',
      upstreamStatus === 0 ? 502 : upstreamStatus,
    );
  });
  res.on('close', () => {
    if (!res.writableFinished && !finished) {
      // The client went away: stop the generation upstream and charge what was produced so far.
      finish('aborted', 499);
      up.destroy();
    }
  });
  up.setNoDelay(true);
  up.end(payload);
  beforeUpstream = performance.now() - arrived;
}
