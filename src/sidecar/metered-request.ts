import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Attribution } from './attribution.js';
import type { CompletionBody } from './body.js';
import { forwardHeaders, forwardResponseHeaders, jsonError, writeWithBackpressure } from './http.js';
import type { ProxyDeps } from './proxy-deps.js';
import { SseRelay, type EngineMetrics, type Usage } from './relay.js';
import { usageEvent } from './usage-event.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What the sidecar knows of a request once it is admitted and its body read. */
export interface AdmittedRequest {
  readonly deps: ProxyDeps;
  readonly pool: Dispatcher;
  readonly who: Attribution;
  /** Wall-clock milliseconds at arrival: the event's startedAt. */
  readonly startedAt: number;
  /** performance.now() at arrival, for the latency the sidecar adds. */
  readonly arrived: number;
  /** The target as the sidecar routed it. */
  readonly path: string;
  /** Requests in flight: this one is in it from dispatch until its usage event is emitted. */
  readonly inFlight: Set<MeteredRequest>;
}

type Status = 'ok' | 'error' | 'aborted';
type Callback = 'onRequestStart' | 'onResponseStart' | 'onResponseData' | 'onResponseEnd' | 'onResponseError';
type Callbacks = Required<Pick<Dispatcher.DispatchHandler, Callback>>;

/**
 * The request class as a metric label: the client names it, so only the configured classes are
 * labels of their own; any other is `other`, or each made-up class would be a new time series.
 */
export function classLabel(requestClass: string, deps: ProxyDeps): string {
  return requestClass === deps.rules.defaultClass || deps.priorities.has(requestClass)
    ? requestClass
    : 'other';
}

/**
 * One admitted completion request, from its dispatch to vLLM to its one usage event: it relays the
 * answer (event by event when streamed), reads the usage out of it, and meters the attempt exactly
 * once, as ok, error or aborted, whichever of the answer's end, an upstream failure, the client
 * going away or a fault in the sidecar comes first.
 */
export class MeteredRequest {
  /** Sent to vLLM and returned to the client: the client's own id when well-formed, else a new one. */
  private readonly requestId: string;
  private readonly now: () => number;
  /** Reads a streamed answer; undefined for a plain one. */
  private readonly relay: SseRelay | undefined;
  /** The bytes of an answer not relayed event by event, kept to read its usage at the end. */
  private readonly plainBody: Buffer[] = [];
  /** Usage and engine metrics of a plain answer; a streamed one's are the relay's. */
  private usage: Usage | undefined;
  private metrics: EngineMetrics | undefined;
  /** vLLM's final (non-1xx) status; 0 until it answers. */
  private upstreamStatus = 0;
  /** True when the answer goes through the relay: streamed, and not an error status. */
  private relaying = false;
  /** True once the usage event is emitted: nothing later meters this request again. */
  private finished = false;
  /** True once the client closed the connection before the answer was complete. */
  private clientGone = false;
  /** True once a body byte reached the client: the added latency is observed then, once. */
  private wroteBody = false;
  /** Undici's handle on the upstream request, to abort or pause it; set when it starts. */
  private controller: Dispatcher.DispatchController | undefined;
  /** Milliseconds from arrival to dispatch: reading, checking and re-serialising the body. */
  private beforeUpstream = 0;
  /** performance.now() when the response headers went to the client. */
  private relayStarted = 0;

  constructor(
    private readonly parsed: CompletionBody,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly call: AdmittedRequest,
  ) {
    this.now = call.deps.now ?? Date.now;
    const clientId = req.headers['x-request-id'];
    this.requestId = typeof clientId === 'string' && REQUEST_ID.test(clientId) ? clientId : randomUUID();
    this.relay = parsed.stream ? new SseRelay(parsed.client, this.now) : undefined;
  }

  /** Dispatches the request to vLLM, usage asked for; the callbacks take it from there. */
  forward(): void {
    const handler = this.guarded({
      onRequestStart: (ctl) => {
        this.onRequestStart(ctl);
      },
      onResponseStart: (ctl, status, headers) => {
        this.onResponseStart(ctl, status, headers);
      },
      onResponseData: (ctl, chunk) => {
        this.onResponseData(ctl, chunk);
      },
      onResponseEnd: (ctl) => {
        this.onResponseEnd(ctl);
      },
      onResponseError: (_ctl, error) => {
        this.onResponseError(error);
      },
    });
    this.res.on('close', () => {
      this.onClientClose();
    });
    this.call.inFlight.add(this);
    try {
      this.call.pool.dispatch(
        {
          path: this.call.path,
          method: 'POST',
          // Identity: a compressed answer could be neither read for usage nor relayed event by event.
          headers: {
            ...forwardHeaders(this.req.headers),
            'x-request-id': this.requestId,
            'accept-encoding': 'identity',
          },
          body: this.parsed.payload,
        },
        handler,
      );
    } catch (error) {
      handler.onResponseError?.(this.controller as Dispatcher.DispatchController, error as Error);
    }
    this.beforeUpstream = performance.now() - this.call.arrived;
  }

  /**
   * Ends the request now (a drain deadline ran out): the upstream generation is stopped, the
   * client's connection is closed, and the attempt is metered as aborted with what was produced so
   * far. Nothing happens to a request already metered.
   */
  cutOff(reason: string): void {
    if (this.finished) return;
    this.finish('aborted', this.upstreamStatus === 0 ? 503 : this.upstreamStatus);
    this.controller?.abort(new Error(reason));
    if (!this.res.headersSent) jsonError(this.res, 503, reason);
    else this.res.destroy();
  }

  private onRequestStart(ctl: Dispatcher.DispatchController): void {
    this.controller = ctl;
    if (this.clientGone) ctl.abort(new Error('the client went away'));
  }

  private onResponseStart(
    ctl: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (status < 200) return; // 1xx: the real answer follows
    this.upstreamStatus = status;
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && String(encoding).trim().toLowerCase() !== 'identity') {
      // Asked for identity, vLLM (or something before it) compressed anyway: the tokens cannot be
      // read, so the answer is not served and the attempt is a visible error, never 0 tokens ok.
      jsonError(
        this.res,
        502,
        `upstream answered with content-encoding ${String(encoding)}, which cannot be metered`,
      );
      this.finish('error', 502);
      ctl.abort(new Error('compressed upstream answer'));
      return;
    }
    this.relaying = this.relay !== undefined && status < 400;
    const out = forwardResponseHeaders(headers, !this.relaying);
    out['x-request-id'] = this.requestId;
    this.res.writeHead(status, out);
    this.relayStarted = performance.now();
    // The headers leave with the first body bytes when both came in one read; otherwise at once,
    // so a client sees the response start while vLLM is still queueing or prefilling.
    process.nextTick(() => {
      if (!this.wroteBody && !this.res.destroyed && !this.res.writableEnded) this.res.flushHeaders();
    });
  }

  private onResponseData(ctl: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.relaying && this.relay !== undefined) {
      this.send(ctl, this.relay.push(chunk));
    } else {
      this.plainBody.push(chunk);
      this.send(ctl, chunk);
    }
  }

  private onResponseEnd(ctl: Dispatcher.DispatchController): void {
    const relay = this.relay;
    if (this.relaying && relay !== undefined) this.send(ctl, relay.end());
    else this.readPlainBody();
    this.res.end();
    const failed =
      this.upstreamStatus >= 400 || relay?.sawError === true || (this.relaying && relay?.sawDone !== true);
    this.finish(failed ? 'error' : 'ok', this.upstreamStatus);
  }

  private onResponseError(error: Error): void {
    if (this.finished) return;
    if (this.clientGone) {
      this.finish('aborted', 499);
    } else if (this.upstreamStatus === 0) {
      jsonError(this.res, 502, `upstream unavailable: ${error.message}`);
      this.finish('error', 502);
    } else {
      // vLLM went away mid-response: a truncated answer is an error, with the counts so far.
      this.finish('error', this.upstreamStatus);
      this.res.destroy();
    }
  }

  private onClientClose(): void {
    if (this.res.writableFinished || this.finished) return;
    // The client went away: stop the generation upstream and charge what was produced so far.
    this.clientGone = true;
    this.controller?.abort(new Error('the client went away'));
    try {
      this.finish('aborted', 499);
    } catch {
      // the response is already gone: a fault in metering it must not take the process down
    }
  }

  /** Writes to the client; the first body bytes mark the latency the sidecar added. */
  private send(ctl: Dispatcher.DispatchController, data: string | Buffer): void {
    if (data.length === 0) return;
    writeWithBackpressure(this.res, ctl, data);
    if (!this.wroteBody) {
      this.wroteBody = true;
      this.call.deps.metrics.addedLatency.observe(
        (this.beforeUpstream + (performance.now() - this.relayStarted)) / 1000,
      );
    }
  }

  /** Usage and metrics of a plain (not streamed) answer, or of an error body. */
  private readPlainBody(): void {
    try {
      const json = JSON.parse(Buffer.concat(this.plainBody).toString('utf8')) as {
        usage?: Usage;
        metrics?: EngineMetrics;
      };
      this.usage = json.usage ?? undefined;
      this.metrics = json.metrics ?? undefined;
    } catch {
      // an error page: no usage to read
    }
  }

  /** Emits the request's one usage event and counts it; later calls do nothing. */
  private finish(status: Status, httpStatus: number): void {
    if (this.finished) return;
    this.finished = true;
    this.call.inFlight.delete(this);
    const { deps, who, startedAt } = this.call;
    if (this.relay !== undefined) {
      this.usage = this.relay.usage;
      this.metrics = this.relay.metrics;
    }
    deps.emit(
      usageEvent({
        requestId: this.requestId,
        who,
        model: this.parsed.model ?? deps.identity.model,
        identity: deps.identity,
        startedAt,
        finishedAt: this.now(),
        firstTokenAt: this.relay?.firstTokenAt,
        stream: this.parsed.stream,
        usage: this.usage,
        metrics: this.metrics,
        status,
        httpStatus,
      }),
    );
    deps.metrics.requests.inc({ request_class: classLabel(who.requestClass, deps), status });
  }

  /** A fault in the sidecar while relaying ends this request as an error, never the process. */
  private guarded(callbacks: Callbacks): Dispatcher.DispatchHandler {
    const wrap =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A): void => {
        try {
          fn(...args);
        } catch (error) {
          this.fault(error as Error);
        }
      };
    return {
      onRequestStart: wrap(callbacks.onRequestStart),
      onResponseStart: wrap(callbacks.onResponseStart),
      onResponseData: wrap(callbacks.onResponseData),
      onResponseEnd: wrap(callbacks.onResponseEnd),
      onResponseError: wrap(callbacks.onResponseError),
    };
  }

  private fault(error: Error): void {
    const message = `sidecar fault: ${error.message}`;
    const res = this.res;
    if (!res.headersSent) jsonError(res, 502, message);
    else res.destroy();
    this.finish('error', res.headersSent && this.upstreamStatus !== 0 ? this.upstreamStatus : 502);
    this.controller?.abort(new Error(message));
  }
}
