import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { forwardHeaders, forwardResponseHeaders, jsonError, writeWithBackpressure } from './http.js';
import { bodyLimits, meter } from './meter.js';
import type { DrainState } from './metered-request.js';
import type { ProxyDeps } from './proxy-deps.js';
import { Router } from './routes.js';
import { readTarget } from './target.js';

/**
 * How the sidecar's connection pool to vLLM is set up (the benchmark's bare proxy uses the same).
 * undici rather than node:http's client: no stream objects per response, about a fifth less CPU
 * per streamed request (bench/sidecar-bench.ts). No header or body timeouts: vLLM may hold a
 * queued batch request for minutes, and the client decides how long to wait. Idle connections
 * close after 4 s (undici's default), before uvicorn's 5 s keep-alive, so a request is never
 * sent on a connection vLLM is closing.
 */
export const UPSTREAM_POOL: Pool.Options = {
  connections: 2048,
  pipelining: 1,
  headersTimeout: 0,
  bodyTimeout: 0,
};

/** The metering reverse proxy: one usage event per request on a GPU route, no-GPU routes passed through, any other refused. */
export function createProxy(deps: ProxyDeps): {
  server: Server;
  inFlight: () => number;
  /** Request body bytes held now, within the budget. */
  bodyBytesHeld: () => number;
  idle: () => Promise<void>;
  /**
   * Ends every request in flight now by closing its connection, each metered one metered as aborted
   * (attributes.metering: cut-off) with what it produced; returns how many were in flight.
   */
  cutOff: (reason: string) => number;
  close: () => Promise<void>;
} {
  const pool = new Pool(deps.upstream.origin, UPSTREAM_POOL);
  const limits = bodyLimits(deps.bodies);
  const drain: DrainState = { reason: undefined };
  const router = new Router(deps.routes);
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const done = (): void => {
    inFlight -= 1;
    if (inFlight === 0) {
      for (const w of waiters) w();
      waiters = [];
    }
  };
  // No Nagle: small SSE chunks must leave at once, not wait for an ACK (40 ms).
  const server = createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    inFlight += 1;
    res.once('close', done);
    try {
      // Routed as vLLM will route it: `/v1/chat/%63ompletions` is the chat route, and is metered.
      const target = readTarget(req.url ?? '/');
      if ('error' in target) {
        req.resume();
        jsonError(res, 400, target.error);
      } else {
        const route = router.route(req.method ?? 'GET', target.path);
        if (route.kind === 'meter') {
          meter(req, res, deps, pool, target.forward, route.protocol, limits, drain);
        } else if (route.kind === 'pass') {
          passThrough(req, res, pool, target.forward);
        } else {
          deps.metrics.requests.inc({ request_class: 'other', status: 'refused-route' });
          req.resume();
          jsonError(res, route.status, route.message);
        }
      }
    } catch (error) {
      // One request's fault answers that request, and never takes the process (and every stream) down.
      if (!res.headersSent) jsonError(res, 500, `sidecar fault: ${(error as Error).message}`);
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 65_000;
  return {
    server,
    inFlight: () => inFlight,
    bodyBytesHeld: () => limits.budget.inUse,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    cutOff: (reason) => {
      const cut = inFlight;
      drain.reason = reason;
      server.closeAllConnections();
      return cut;
    },
    close: () => pool.close(),
  };
}

/** A route on which vLLM does no model work (`/v1/models`, `/health`, vLLM's `/metrics`, ...) goes through as it is. */
function passThrough(req: IncomingMessage, res: ServerResponse, pool: Dispatcher, path: string): void {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  if (!hasBody) req.resume();
  const length = req.headers['content-length'];
  let controller: Dispatcher.DispatchController | undefined;
  let gone = false;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(ctl) {
      controller = ctl;
      if (gone) ctl.abort(new Error('the client went away'));
    },
    onResponseStart(_ctl, status, headers) {
      if (status < 200) return;
      res.writeHead(status, forwardResponseHeaders(headers, true));
    },
    onResponseData(ctl, chunk) {
      writeWithBackpressure(res, ctl, chunk);
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_ctl, error) {
      if (gone) return;
      if (!res.headersSent) jsonError(res, 502, `upstream unavailable: ${error.message}`);
      else res.destroy();
    },
  };
  res.on('close', () => {
    if (res.writableFinished) return;
    gone = true;
    controller?.abort(new Error('the client went away'));
  });
  try {
    pool.dispatch(
      {
        path,
        method: req.method ?? 'GET',
        headers: {
          ...forwardHeaders(req.headers),
          ...(length === undefined ? {} : { 'content-length': length }),
        },
        body: hasBody ? req : null,
      },
      handler,
    );
  } catch (error) {
    jsonError(res, 502, `cannot forward the request: ${(error as Error).message}`);
  }
}
