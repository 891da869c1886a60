import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { attribute } from './attribution.js';
import { readCompletionBody } from './body.js';
import type { BodyBudget } from './budget.js';
import { jsonError } from './http.js';
import { classLabel, MeteredRequest } from './metered-request.js';
import type { ProxyDeps } from './proxy-deps.js';

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
  inFlight: Set<MeteredRequest>,
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
      new MeteredRequest(body, req, res, { deps, pool, who, startedAt, arrived, path, inFlight }).forward();
    } catch (error) {
      // Before dispatch nothing reached vLLM (no event); after it, the handler's guard meters the fault.
      if (!res.headersSent) jsonError(res, 500, `sidecar fault: ${(error as Error).message}`);
      else res.destroy();
    }
  });
}
