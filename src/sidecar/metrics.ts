import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PipeCounters } from './pipe.js';
import { spoolBytes } from './spool.js';

/** The sidecar's own Prometheus metrics (vLLM's /metrics passes through the proxy untouched). */
export class SidecarMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'chargeback_sidecar_requests_total',
    help: 'Metered requests by request class and status (ok, error, aborted, rejected).',
    labelNames: ['request_class', 'status'] as const,
    registers: [this.registry],
  });
  readonly addedLatency = new Histogram({
    name: 'chargeback_sidecar_added_latency_seconds',
    help: 'Time the sidecar adds before the first byte: reading and rewriting the request, and relaying the first response byte.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'chargeback_sidecar_events_total',
    help: 'Usage and capacity events by outcome: published, spooled, replayed, dropped (the spool could not be written), rejected (can never be sent; kept in rejected.ndjson next to the spool).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly bodyRefusals = new Counter({
    name: 'chargeback_sidecar_body_refusals_total',
    help: 'Metered requests refused while their body was read, by reason: too-large (413), budget (503, all bodies held at once), tenant-share (429, the tenant holds its share of the budget), timeout (408, the body took longer than SIDECAR_BODY_TIMEOUT_SECONDS).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly meteringGaps = new Counter({
    name: 'chargeback_sidecar_metering_gaps_total',
    help: 'Answers whose usage could not be read as the engine reported it, by route protocol and reason: usage-not-reported (a 200 answer without usage; tokens counted from the stream where it was one), not-json (a 200 answer that is not JSON), stream-cut (counted from what was streamed; cached tokens unknown), unread-event (a stream event over SIDECAR_MAX_STREAM_EVENT_BYTES relayed unread).',
    labelNames: ['protocol', 'reason'] as const,
    registers: [this.registry],
  });
  readonly budgetDecisions = new Counter({
    name: 'chargeback_sidecar_budget_decisions_total',
    help: 'Metered requests a spend budget acted on, by action: refuse (429), demote (served as batch), alert (served), unavailable (503: stale budget state and SIDECAR_BUDGET_FAIL_CLOSED).',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly budgetStateReads = new Counter({
    name: 'chargeback_sidecar_budget_state_reads_total',
    help: 'Reads of the budget state document by outcome: ok, stale (read, but older than the stale bound), unreadable (did not parse; the last good one is kept), unreachable.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly budgetStateAge = new Gauge({
    name: 'chargeback_sidecar_budget_state_age_seconds',
    help: 'Age of the budget state the sidecar enforces, from its generatedAt (or its last good read, if older); alert on it above the stale bound.',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'chargeback_sidecar_queue_depth',
    help: 'Events waiting in memory to be sent.',
    registers: [this.registry],
  });

  /**
   * Bytes of events on disk waiting to be sent, read from the spool folder at each scrape, so it
   * is true across restarts (the counters above start again from zero; the spool does not).
   * Left out when the sidecar is built without a spool folder (some tests).
   */
  readonly spool: Gauge | undefined;

  constructor(spoolDir?: string) {
    this.spool =
      spoolDir === undefined
        ? undefined
        : new Gauge({
            name: 'chargeback_sidecar_spool_bytes',
            help: 'Bytes of events in the spool folder waiting to be sent to Event Hubs (rejected events excluded).',
            registers: [this.registry],
            async collect() {
              this.set(await spoolBytes(spoolDir));
            },
          });
    // Process metrics too: event-loop lag and GC pauses explain a latency tail before anything else.
    collectDefaultMetrics({ register: this.registry, prefix: 'chargeback_sidecar_' });
  }

  pipeCounters(): PipeCounters {
    return {
      published: (n) => {
        this.events.inc({ outcome: 'published' }, n);
      },
      spooled: (n) => {
        this.events.inc({ outcome: 'spooled' }, n);
      },
      replayed: (n) => {
        this.events.inc({ outcome: 'replayed' }, n);
      },
      dropped: (n) => {
        this.events.inc({ outcome: 'dropped' }, n);
      },
      rejected: (n) => {
        this.events.inc({ outcome: 'rejected' }, n);
      },
      queueDepth: (n) => {
        this.queueDepth.set(n);
      },
    };
  }
}
