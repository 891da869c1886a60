import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { attribute, type Attribution } from './attribution.js';
import { randomUUID } from 'node:crypto';
import type { Gate } from './spend-budgets.js';
import { usageEvent } from './usage-event.js';
import { priorityOf, readCompletionBody } from './body.js';
import type { Protocol } from './routes.js';
import {
  BodyBudget,
  DEFAULT_BODY_BUDGET,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_MAX_BODY,
  DEFAULT_TENANT_SHARE,
  type BudgetRefusal,
} from './budget.js';
import { jsonError } from './http.js';
import { classLabel, MeteredRequest, type DrainState } from './metered-request.js';
import type { ProxyDeps } from './proxy-deps.js';

/** How request bodies are bounded: per body, in total and per tenant across requests, and in time. */
export interface BodyLimits {
  readonly max: number;
  readonly budget: BodyBudget;
  /** Milliseconds from the request's headers to its body's last byte. */
  readonly timeoutMs: number;
}

/** The limits of `deps.bodies`, each missing one at its default (budget.ts). */
export function bodyLimits(bodies: ProxyDeps['bodies']): BodyLimits {
  const max = bodies?.max ?? DEFAULT_MAX_BODY;
  return {
    max,
    budget: new BodyBudget(bodies?.budget ?? DEFAULT_BODY_BUDGET, {
      maxBody: max,
      tenantShare: bodies?.tenantShare ?? DEFAULT_TENANT_SHARE,
    }),
    timeoutMs: bodies?.timeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
  };
}

/** Why a body was refused while it was read; the label of chargeback_sidecar_body_refusals_total. */
type BodyRefusal = 'too-large' | BudgetRefusal | 'timeout';

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
  route: Protocol | 'invocations',
  limits: BodyLimits,
  drain: DrainState,
): void {
  const arrived = performance.now();
  const startedAt = (deps.now ?? Date.now)();
  const refuse = (status: number, message: string, requestClass: string, retryAfter?: number): void => {
    deps.metrics.requests.inc({ request_class: classLabel(requestClass, deps), status: 'rejected' });
    req.resume();
    jsonError(res, status, message, retryAfter);
  };
  const attributed = attribute(req.rawHeaders, deps.rules);
  if ('error' in attributed) {
    refuse(attributed.status, attributed.error, deps.rules.defaultClass);
    return;
  }
  const gate = deps.budgets?.gate(attributed.tenant, attributed.feature);
  if (gate !== undefined && (gate.action === 'refuse' || gate.action === 'unavailable')) {
    refuseForBudget(req, res, deps, attributed, startedAt, gate);
    return;
  }
  const demoted = gate?.action === 'demote';
  if (gate !== undefined) deps.metrics.budgetDecisions.inc({ action: gate.action });
  const who: Attribution = demoted ? { ...attributed, requestClass: DEMOTED_CLASS } : attributed;
  const encoding = req.headers['content-encoding'];
  // The body must be read to be metered; a compressed one would reach vLLM unread.
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    refuse(415, `content-encoding ${encoding}: send the request body uncompressed`, who.requestClass);
    return;
  }
  const refuseBody = (why: BodyRefusal): void => {
    deps.metrics.bodyRefusals.inc({ reason: why });
    if (why === 'too-large') {
      refuse(413, `request body over ${limits.max} bytes`, who.requestClass);
    } else if (why === 'budget') {
      // The sidecar is busy, not the request wrong: the client may retry shortly.
      refuse(503, 'too many request bodies in flight; retry shortly', who.requestClass, 1);
    } else if (why === 'tenant-share') {
      // This tenant's own uploads are the cause; other tenants are still served.
      const message =
        "this tenant's request bodies in flight hold its share of the sidecar's memory; retry shortly";
      refuse(429, message, who.requestClass, 1);
    } else {
      // The connection goes with the answer: a client that trickles its body gets no second one.
      res.setHeader('connection', 'close');
      refuse(408, `request body not received within ${limits.timeoutMs / 1000} s`, who.requestClass);
    }
  };
  // A declared length over the limit is refused before a byte is read; one within it reserves nothing yet.
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.max) {
    refuseBody('too-large');
    return;
  }
  receiveBody(req, res, limits, who.tenant, refuseBody, (raw) => {
    try {
      const body = readCompletionBody(raw, priorityOf(who.requestClass, deps.priorities), route);
      if ('error' in body) {
        refuse(400, body.error, who.requestClass);
        return;
      }
      const call = { deps, pool, who, startedAt, arrived, path, drain };
      new MeteredRequest(body, req, res, demoted ? { ...call, budget: 'demoted' } : call).forward();
    } catch (error) {
      // Before dispatch nothing reached vLLM (no event); after it, the handler's guard meters the fault.
      if (!res.headersSent) jsonError(res, 500, `sidecar fault: ${(error as Error).message}`);
      else res.destroy();
    }
  });
}

/** The class a demoted request is served as (with its vLLM priority from SIDECAR_PRIORITIES). */
export const DEMOTED_CLASS = 'batch';

/**
 * A request a spend budget refuses: 429 with the body of contracts.md §14 and Retry-After to the
 * period's end (or 503 when the state is stale and the sidecar fails closed), and still one usage
 * event (status error, httpStatus 429 or 503, attributes.budget), so a refusal is never invisible.
 */
function refuseForBudget(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ProxyDeps,
  who: Attribution,
  startedAt: number,
  gate: Extract<Gate, { action: 'refuse' | 'unavailable' }>,
): void {
  req.resume();
  deps.metrics.budgetDecisions.inc({ action: gate.action });
  deps.metrics.requests.inc({ request_class: classLabel(who.requestClass, deps), status: 'rejected' });
  let status: number;
  if (gate.action === 'refuse') {
    status = 429;
    const body = JSON.stringify(gate.refusal.body);
    res.writeHead(429, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'retry-after': String(gate.refusal.retryAfterSeconds),
    });
    res.end(body);
  } else {
    status = 503;
    jsonError(res, 503, 'budget state unavailable; retry shortly', gate.retryAfterSeconds);
  }
  const clientId = req.headers['x-request-id'];
  deps.emit(
    usageEvent({
      requestId:
        typeof clientId === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(clientId) ? clientId : randomUUID(),
      who,
      model: deps.identity.model,
      identity: deps.identity,
      startedAt,
      finishedAt: startedAt,
      firstTokenAt: undefined,
      counted: undefined,
      metering: undefined,
      status: 'error',
      httpStatus: status,
      budget: gate.action === 'refuse' ? 'refused' : 'unavailable',
    }),
  );
}

/**
 * Reads a request body into memory within the limits: each chunk is reserved in the budget, for
 * the tenant, as it arrives, and the whole body must arrive within the deadline. What is reserved
 * is given back exactly once everything for this request is over (the response closed, however
 * it ended), or at once when the body is refused; `received` gets the body, `refused` the reason.
 */
function receiveBody(
  req: IncomingMessage,
  res: ServerResponse,
  limits: BodyLimits,
  tenant: string,
  refused: (why: BodyRefusal) => void,
  received: (raw: Buffer) => void,
): void {
  const chunks: Buffer[] = [];
  let held = 0;
  let over = false; // nothing more is held, or forwarded, for this request
  const release = (): void => {
    clearTimeout(deadline);
    limits.budget.give(tenant, held);
    held = 0;
    chunks.length = 0;
    over = true;
  };
  const refuse = (why: BodyRefusal): void => {
    release();
    refused(why);
  };
  // A body trickled a byte at a time would hold its share and its connection for as long as the
  // client likes; a total deadline bounds both.
  const deadline = setTimeout(() => {
    if (!over) refuse('timeout');
  }, limits.timeoutMs);
  deadline.unref();
  // Held until the response is over: the forwarded copy of the body lives as long as the request.
  res.once('close', release);
  req.on('data', (chunk: Buffer) => {
    if (over) return;
    if (held + chunk.length > limits.max) {
      refuse('too-large');
      return;
    }
    const taken = limits.budget.take(tenant, chunk.length);
    if (taken !== true) {
      refuse(taken);
      return;
    }
    held += chunk.length;
    chunks.push(chunk);
  });
  req.on('end', () => {
    clearTimeout(deadline);
    if (over || res.destroyed) return;
    const raw = Buffer.concat(chunks);
    chunks.length = 0;
    received(raw);
  });
}
