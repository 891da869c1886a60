import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { StepClock } from '../domain/stalls.js';
import type { Attribution } from './attribution.js';
import type { CompletionBody } from './body.js';
import { forwardHeaders, forwardResponseHeaders, jsonError, writeWithBackpressure } from './http.js';
import { MeanConcurrency } from '../domain/mean-concurrency.js';
import type { ProxyDeps } from './proxy-deps.js';
import { JsonFieldScanner } from './json-fields.js';
import { SseRelay } from './relay.js';
import { PLAIN_FIELDS, UsageTally } from './tally.js';
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
  /** Set when the proxy cuts off what is in flight (a drain deadline), with the reason. */
  readonly drain: DrainState;
  /** Set when a spend budget demoted the request (its class is then `batch`). */
  readonly budget?: 'demoted';
}

/**
 * Whether the proxy is cutting off its requests. The proxy closes their connections, and a request
 * whose connection closes while this is set is metered as cut off rather than as a client gone. (A
 * registry of the requests in flight would do the same, but an old-generation set pointing at
 * every young request kept them alive through scavenges: young-generation pauses went from about 2
 * to 8 ms at 1,000 streamed requests/s, and the sidecar's memory grew.)
 */
export interface DrainState {
  reason: string | undefined;
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
 * One admitted request on a GPU route, from its dispatch to vLLM to its one usage event: it relays
 * the answer as it arrives (event by event when it is an event stream, byte for byte otherwise),
 * counts its usage on the way without holding the answer, and meters the attempt exactly once, as
 * ok, error or aborted, whichever of the answer's end, an upstream failure, the client going away,
 * a cut-off or a fault in the sidecar comes first. An answer whose usage cannot be read as the
 * engine reported it is metered as an error with the reason in its attributes, never as 0 tokens ok.
 */
/** One pod's step clock per proxy, told of every streamed token of every request (domain/stalls.ts). */
const stepClocks = new WeakMap<ProxyDeps, StepClock>();
function stepClockOf(deps: ProxyDeps): StepClock {
  let found = stepClocks.get(deps);
  if (found === undefined) {
    found = new StepClock();
    stepClocks.set(deps, found);
  }
  return found;
}

/** One pod's concurrency per proxy (its deps are made once per sidecar). */
const concurrencies = new WeakMap<ProxyDeps, MeanConcurrency>();
function concurrencyOf(deps: ProxyDeps): MeanConcurrency {
  let found = concurrencies.get(deps);
  if (found === undefined) {
    found = new MeanConcurrency();
    concurrencies.set(deps, found);
  }
  return found;
}

export class MeteredRequest {
  /** Sent to vLLM and returned to the client: the client's own id when well-formed, else a new one. */
  private readonly requestId: string;
  private readonly now: () => number;
  /** The request's tokens, counted from its answer. */
  private readonly tally: UsageTally;
  /** Reads an event-stream answer; set when one starts. */
  private relay: SseRelay | undefined;
  /** Reads the usage of a plain answer as it is relayed; set when one starts. */
  private scanner: JsonFieldScanner | undefined;
  /** Usage that vLLM puts in a `metadata` header (binary embeddings). */
  private headerUsage: unknown;
  /** vLLM's final (non-1xx) status; 0 until it answers. */
  private upstreamStatus = 0;
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

  private readonly concurrency: MeanConcurrency;
  /** The pod's in-flight integral when this request arrived. */
  private readonly enteredAt: number;

  constructor(
    private readonly parsed: CompletionBody,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly call: AdmittedRequest,
  ) {
    this.now = call.deps.now ?? Date.now;
    this.concurrency = concurrencyOf(call.deps);
    this.enteredAt = this.concurrency.enter(call.startedAt);
    const clientId = req.headers['x-request-id'];
    this.requestId = typeof clientId === 'string' && REQUEST_ID.test(clientId) ? clientId : randomUUID();
    this.tally = new UsageTally(parsed.protocol, parsed.choicesPerPrompt);
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
    // Read as what it is: an event stream event by event (whatever the request asked), anything else
    // as a plain answer whose usage is scanned on its way to the client.
    const type = String(headers['content-type'] ?? '').toLowerCase();
    if (status < 400 && type.startsWith('text/event-stream')) {
      this.relay = new SseRelay(
        this.tally,
        this.parsed.client,
        this.now,
        this.call.deps.maxStreamEventChars,
        stepClockOf(this.call.deps),
      );
    } else {
      this.scanner = new JsonFieldScanner(PLAIN_FIELDS);
      this.headerUsage = headerUsage(headers.metadata);
    }
    const out = forwardResponseHeaders(headers, this.relay === undefined);
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
    if (this.relay !== undefined) {
      this.send(ctl, this.relay.push(chunk));
    } else {
      this.scanner?.push(chunk);
      this.send(ctl, chunk);
    }
  }

  private onResponseEnd(ctl: Dispatcher.DispatchController): void {
    if (this.relay !== undefined) this.send(ctl, this.relay.end());
    const gap = this.upstreamStatus >= 400 ? undefined : this.meteringGap();
    const failed = this.upstreamStatus >= 400 || this.tally.failed || gap !== undefined;
    // Metered before the answer's last bytes go: a request the client saw complete has its event.
    try {
      this.finish(failed ? 'error' : 'ok', this.upstreamStatus, gap);
    } finally {
      this.res.end(); // a fault in metering is the sidecar's, not the answer's: the client gets it whole
    }
  }

  /**
   * Why a complete 2xx answer cannot be metered as the engine reported it, if it cannot: a stream
   * that never reached its end marker, an answer that is not JSON, or usage that is missing.
   * Audio answers report seconds or nothing, not tokens: their time is metered, their tokens as given.
   */
  private meteringGap(): 'stream-cut' | 'not-json' | 'usage-not-reported' | undefined {
    const audio = this.tally.protocol === 'audio';
    if (this.relay !== undefined) {
      if (!this.tally.ended) return 'stream-cut';
    } else if (this.scanner !== undefined) {
      const scanner = this.scanner;
      // A binary answer (embeddings as bytes) carries its usage in a header instead.
      if (!scanner.complete && this.headerUsage === undefined) return audio ? undefined : 'not-json';
      this.tally.observePlain((name) => scanner.value(name), this.headerUsage);
    }
    if (audio || this.tally.result().source === 'reported') return undefined;
    return 'usage-not-reported';
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
    // The client went away, or the proxy cut the connection off (its drain deadline): stop the
    // generation upstream and charge what was produced so far.
    this.clientGone = true;
    const cut = this.call.drain.reason;
    try {
      // Metered first: aborting the upstream request may call onResponseError at once.
      if (cut === undefined) this.finish('aborted', 499);
      else this.finish('aborted', this.upstreamStatus === 0 ? 503 : this.upstreamStatus, 'cut-off');
    } catch {
      // the response is already gone: a fault in metering it must not take the process down
    }
    this.controller?.abort(new Error(cut ?? 'the client went away'));
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

  /**
   * Emits the request's one usage event and counts it; later calls do nothing. `gap` says why the
   * answer's usage could not be read as reported (an error the sidecar decided, not vLLM).
   */
  private finish(status: Status, httpStatus: number, gap?: string): void {
    if (this.finished) return;
    this.finished = true;
    const { deps, who, startedAt } = this.call;
    const counted = this.tally.result();
    const reached = this.upstreamStatus >= 200 && this.upstreamStatus < 400;
    // A stream that ended early is counted from what it streamed: say so, and that the cached count is unknown.
    const reason =
      gap ?? (reached && status !== 'ok' && counted.source !== 'reported' ? 'stream-cut' : undefined);
    const protocol = this.tally.protocol;
    if (reason !== undefined) {
      deps.metrics.meteringGaps.inc({ protocol, reason });
      if (gap !== undefined)
        deps.log?.(
          `sidecar: ${protocol} answer ${this.requestId} (HTTP ${httpStatus}) metered as ${status}: ${gapText[gap] ?? gap}; tokens counted: ${counted.promptTokens} prompt, ${counted.completionTokens} completion (${counted.source})`,
        );
    }
    if (counted.unreadEvents > 0)
      deps.metrics.meteringGaps.inc({ protocol, reason: 'unread-event' }, counted.unreadEvents);
    const finishedAt = this.now();
    const meanConcurrency = this.concurrency.leave(finishedAt, this.enteredAt, startedAt);
    deps.emit(
      usageEvent({
        requestId: this.requestId,
        who,
        model: this.parsed.model ?? deps.identity.model,
        identity: deps.identity,
        startedAt,
        finishedAt,
        // For the spend budgets' estimate at ingestion: only where the sidecar enforces budgets.
        ...(deps.budgets === undefined ? {} : { meanConcurrency }),
        firstTokenAt: this.relay?.firstTokenAt,
        stalls: this.relay?.stalls,
        counted: reached ? counted : undefined,
        metering: reason,
        status,
        httpStatus,
        ...(this.call.budget === undefined ? {} : { budget: this.call.budget }),
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
    else if (!res.writableEnded) res.destroy();
    this.finish('error', res.headersSent && this.upstreamStatus !== 0 ? this.upstreamStatus : 502);
    this.controller?.abort(new Error(message));
  }
}

const gapText: Record<string, string> = {
  'usage-not-reported': 'the answer carried no usage',
  'not-json': 'the answer is not JSON',
  'stream-cut': 'the stream ended before its end marker',
  'cut-off': 'the sidecar cut it off (its drain deadline passed)',
};

/** vLLM's `metadata` response header (binary embeddings): JSON whose `usage` is the answer's. */
function headerUsage(value: string | string[] | undefined): unknown {
  if (typeof value !== 'string' || value.length > 65_536) return undefined;
  try {
    return (JSON.parse(value) as { usage?: unknown }).usage;
  } catch {
    return undefined;
  }
}
