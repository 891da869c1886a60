import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { attribute, type Attribution } from './attribution.js';
import { readCompletionBody, type CompletionBody } from './body.js';
import type { BodyBudget } from './budget.js';
import { forwardHeaders, forwardResponseHeaders, jsonError, writeWithBackpressure } from './http.js';
import type { ProxyDeps } from './proxy-deps.js';
import { SseRelay, type EngineMetrics, type Usage } from './relay.js';
import { usageEvent } from './usage-event.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** How request bodies are bounded: per body, and in total across concurrent requests. */
export interface BodyLimits {
  readonly max: number;
  readonly budget: BodyBudget;
}

/**
 * A completion request: attributed, read within the body limits, forwarded (to `path`, the target
 * as the sidecar routed it) with usage asked for, relayed, and metered as one usage event.
 */
export function meter(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ProxyDeps,
  pool: Dispatcher,
  path: string,
  limits: BodyLimits,
): void {
  const arrived = performance.now();
  const startedAt = (deps.now ?? Date.now)();
  const refuse = (status: number, message: string, requestClass: string, retryAfter?: number): void => {
    deps.metrics.requests.inc({ request_class: classLabel(requestClass, deps), status: 'rejected' });
    req.resume();
    jsonError(res, status, message, retryAfter);
  };
  const who = attribute(req.rawHeaders, deps.rules);
  if ('error' in who) {
    refuse(400, who.error, deps.rules.defaultClass);
    return;
  }
  const encoding = req.headers['content-encoding'];
  // The body must be read to be metered; a compressed one would reach vLLM unread.
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    refuse(415, `content-encoding ${encoding}: send the request body uncompressed`, who.requestClass);
    return;
  }
  const tooLarge = `request body over ${limits.max} bytes`;
  const busy = 'too many request bodies in flight; retry shortly';
  const declared = req.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && length > limits.max) {
    refuse(413, tooLarge, who.requestClass);
    return;
  }
  // A declared length is reserved whole, before any byte is read; a chunked body chunk by chunk.
  if (length !== undefined && !limits.budget.take(length)) {
    // The sidecar is busy, not the request wrong: the client may retry shortly.
    refuse(503, busy, who.requestClass, 1);
    return;
  }
  const chunks: Buffer[] = [];
  let held = length ?? 0;
  let refused = false;
  const release = (): void => {
    limits.budget.give(held);
    held = 0;
    chunks.length = 0;
    refused = true; // nothing more is held, or forwarded, for this request
  };
  // Held until the response is over: the forwarded copy of the body lives as long as the request.
  res.once('close', release);
  req.on('data', (chunk: Buffer) => {
    if (refused) return;
    if (length === undefined) {
      const over = held + chunk.length > limits.max;
      if (over || !limits.budget.take(chunk.length)) {
        release();
        if (over) refuse(413, tooLarge, who.requestClass);
        else refuse(503, busy, who.requestClass, 1);
        return;
      }
      held += chunk.length;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (refused || res.destroyed) return;
    try {
      const body = readCompletionBody(Buffer.concat(chunks), deps.priorities.get(who.requestClass));
      chunks.length = 0;
      if ('error' in body) {
        refuse(400, body.error, who.requestClass);
        return;
      }
      forward(body, req, res, { deps, pool, who, startedAt, arrived, path });
    } catch (error) {
      // Before dispatch nothing reached vLLM (no event); after it, the handler's guard meters the fault.
      if (!res.headersSent) jsonError(res, 500, `sidecar fault: ${(error as Error).message}`);
      else res.destroy();
    }
  });
}

/**
 * The request class as a metric label: the client names it, so only the configured classes are
 * labels of their own; any other is `other`, or each made-up class would be a new time series.
 */
function classLabel(requestClass: string, deps: ProxyDeps): string {
  return requestClass === deps.rules.defaultClass || deps.priorities.has(requestClass)
    ? requestClass
    : 'other';
}

type Callback = 'onRequestStart' | 'onResponseStart' | 'onResponseData' | 'onResponseEnd' | 'onResponseError';

interface Call {
  readonly deps: ProxyDeps;
  readonly pool: Dispatcher;
  readonly who: Attribution;
  readonly startedAt: number;
  readonly arrived: number;
  readonly path: string;
}

function forward(parsed: CompletionBody, req: IncomingMessage, res: ServerResponse, call: Call): void {
  const { deps, who, startedAt } = call;
  const now = deps.now ?? Date.now;
  const clientId = req.headers['x-request-id'];
  const requestId = typeof clientId === 'string' && REQUEST_ID.test(clientId) ? clientId : randomUUID();
  const { payload, stream, model, client } = parsed;
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
    deps.metrics.requests.inc({ request_class: classLabel(who.requestClass, deps), status });
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

  const handler: Dispatcher.DispatchHandler = guarded({
    onRequestStart(ctl) {
      controller = ctl;
      if (clientGone) ctl.abort(new Error('the client went away'));
    },
    onResponseStart(ctl, status, headers) {
      if (status < 200) return; // 1xx: the real answer follows
      upstreamStatus = status;
      const encoding = headers['content-encoding'];
      if (encoding !== undefined && String(encoding).trim().toLowerCase() !== 'identity') {
        // Asked for identity, vLLM (or something before it) compressed anyway: the tokens cannot be
        // read, so the answer is not served and the attempt is a visible error, never 0 tokens ok.
        jsonError(
          res,
          502,
          `upstream answered with content-encoding ${String(encoding)}, which cannot be metered`,
        );
        finish('error', 502);
        ctl.abort(new Error('compressed upstream answer'));
        return;
      }
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
  });

  /** A fault in the sidecar while relaying ends this request as an error, never the process. */
  function guarded(h: Required<Pick<Dispatcher.DispatchHandler, Callback>>): Dispatcher.DispatchHandler {
    const wrap =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A): void => {
        try {
          fn(...args);
        } catch (error) {
          const message = `sidecar fault: ${(error as Error).message}`;
          if (!res.headersSent) jsonError(res, 502, message);
          else res.destroy();
          finish('error', res.headersSent && upstreamStatus !== 0 ? upstreamStatus : 502);
          controller?.abort(new Error(message));
        }
      };
    return {
      onRequestStart: wrap(h.onRequestStart),
      onResponseStart: wrap(h.onResponseStart),
      onResponseData: wrap(h.onResponseData),
      onResponseEnd: wrap(h.onResponseEnd),
      onResponseError: wrap(h.onResponseError),
    };
  }

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
    controller?.abort(new Error('the client went away'));
    try {
      finish('aborted', 499);
    } catch {
      // the response is already gone: a fault in metering it must not take the process down
    }
  });
  try {
    call.pool.dispatch(
      {
        path: call.path,
        method: 'POST',
        // Identity: a compressed answer could be neither read for usage nor relayed event by event.
        headers: { ...forwardHeaders(req.headers), 'x-request-id': requestId, 'accept-encoding': 'identity' },
        body: payload,
      },
      handler,
    );
  } catch (error) {
    handler.onResponseError?.(controller as Dispatcher.DispatchController, error as Error);
  }
  beforeUpstream = performance.now() - call.arrived;
}
