import { dayEndMs, dayStartMs } from '../domain/days.js';
import { runEngine, type EngineRequest } from './engine.js';
import { formatStalls } from '../domain/stalls.js';
import { PodConcurrency } from './concurrency.js';
import { Random } from './random.js';
import { batchArrivals, drawBursts, interactiveArrivals, type Arrival, type Burst } from './traffic.js';
import { ScrapeRecorder } from './vllm-metrics.js';
import { drawShape, MODELS, type FeatureProfile, type ModelProfile } from './workload.js';

export interface SimulationOptions {
  /** The UTC day, YYYY-MM-DD. */
  readonly date: string;
  readonly pods: number;
  readonly seed: number;
  /** About how many requests the whole fleet receives that day (default 40,000). */
  readonly requests?: number;
  /** Fraction of events delivered a second time, later, as Event Hubs may (default 0). */
  readonly duplicateRate?: number;
  /** A release to compare (the cost gate's candidate): the same arrivals, served differently. */
  readonly variant?: Variant;
  /** Scrapes of each pod's vLLM Prometheus metrics; the events stay exactly what they are without. */
  readonly scrapes?: ScrapeOptions;
  /**
   * Whether the sidecars enforce spend budgets, and so put `meanConcurrency` on each answered usage
   * event, as theirs do (src/domain/mean-concurrency.ts); default false.
   */
  readonly meanConcurrency?: boolean;
}

/**
 * Scrapes of vLLM's /metrics (src/simulator/vllm-metrics.ts) one every `intervalMs` of simulated
 * time from midnight, through the end of the day and past it until the pod's last request ended.
 * A scrape sees the steps that ended by its time; one running across it counts in the next.
 */
export interface ScrapeOptions {
  readonly intervalMs: number;
  /** Indexes of the pods to scrape, from 0 in the fleet's order (pod i serves MODELS[i % 2]); all if left out. */
  readonly pods?: readonly number[];
  /** Called in time order for each pod, pod by pod, while the simulation runs. */
  readonly onScrape: (scrape: PodScrape) => void;
}

export interface PodScrape {
  readonly pod: string;
  readonly podIndex: number;
  readonly model: string;
  /** From 0. */
  readonly index: number;
  /** Milliseconds since the start of the day. */
  readonly atMs: number;
  /** The Prometheus text exposition. */
  readonly text: string;
}

/**
 * What a candidate release changes, the arrivals and random draws staying the same: prompts of some
 * features longer or shorter (a prompt change), or a model served on another VM size (GPU count and
 * speed of a step as that size gives them).
 */
export interface Variant {
  readonly promptScale?: Readonly<Record<string, number>>;
  readonly models?: Readonly<
    Record<
      string,
      Partial<Pick<ModelProfile, 'gpuSku' | 'gpuCount' | 'stepFactor' | 'stepCosts' | 'vllmLike'>>
    >
  >;
}

/** What the simulated request really cost, known only to the simulator. */
export interface Truth {
  readonly eventId: string;
  readonly tenant: string;
  readonly feature: string;
  /** GPU-microseconds (all the pod's GPUs) this request caused. */
  readonly gpuMicros: number;
}

export interface SimulatedEvent {
  readonly json: Record<string, unknown>;
  /** On the first delivery of a usage event only. */
  readonly truth?: Truth;
}

interface PodPlan {
  readonly index: number;
  readonly name: string;
  readonly model: ModelProfile;
  readonly kind: 'interactive' | 'batch';
  readonly requests: number;
  /** A sidecar restart that re-sends an overlapping window, at this millisecond of the day. */
  readonly restartAt: number | undefined;
}

const WINDOW_MS = 60_000;

/**
 * A seeded, deterministic day of a vLLM fleet: every usage event a sidecar would publish, and a
 * capacity window per pod-minute. Same options, same events in the same order.
 */
export function* simulateDay(options: SimulationOptions): Generator<SimulatedEvent> {
  const dayStart = dayStartMs(options.date); // RangeError for a string that is not a day
  const dayLength = dayEndMs(options.date) - dayStart;
  const fleet = new Random(options.seed, 0);
  const bursts = drawBursts(fleet);
  const plans = planPods(fleet, options.pods, options.requests ?? 40_000);
  const duplicateRate = options.duplicateRate ?? 0;
  // Its own stream: asking for duplicates must not change a single first delivery.
  const redelivery = new Random(options.seed, 1);
  const later = new Map<number, Record<string, unknown>[]>();
  let emitted = 0;
  for (const plan of plans) {
    for (const event of podDay(
      variantOf(plan, options.variant),
      options.seed,
      dayStart,
      dayLength,
      bursts,
      options.variant,
      options.scrapes,
      options.meanConcurrency === true,
    )) {
      yield event;
      emitted += 1;
      if (duplicateRate > 0 && redelivery.next() < duplicateRate) {
        const at = emitted + 1 + redelivery.below(2000);
        const list = later.get(at) ?? [];
        list.push(event.json);
        later.set(at, list);
      }
      const due = later.get(emitted);
      if (due !== undefined) {
        later.delete(emitted);
        for (const json of due) yield { json };
      }
    }
  }
  for (const at of [...later.keys()].sort((a, b) => a - b))
    for (const json of later.get(at) ?? []) yield { json };
}

function variantOf(plan: PodPlan, variant: Variant | undefined): PodPlan {
  const model = variant?.models?.[plan.model.name];
  return model === undefined ? plan : { ...plan, model: { ...plan.model, ...model } };
}

function planPods(fleet: Random, pods: number, requests: number): PodPlan[] {
  const kinds: ('batch' | 'interactive')[] = Array.from({ length: pods }, (_, i) =>
    i % 3 === 2 ? 'batch' : 'interactive',
  );
  const weights = kinds.map((k) => (k === 'batch' ? 1.2 : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let left = requests;
  return kinds.map((kind, index) => {
    const model = MODELS[index % MODELS.length] ?? MODELS[0];
    if (model === undefined) throw new Error('no models');
    const count = index === pods - 1 ? left : Math.round((requests * (weights[index] ?? 1)) / total);
    left -= count;
    const slug = model.name.replace(/[^a-z0-9]+/g, '-');
    return {
      index,
      name: `vllm-${slug}-${fleet.name(10)}-${fleet.name(5)}`,
      model,
      kind,
      requests: count,
      restartAt: index === 1 % pods ? Math.floor(fleet.uniform(9, 11) * 3_600_000) : undefined,
    };
  });
}

interface Pending extends EngineRequest {
  readonly feature: FeatureProfile;
  readonly tenant: string;
  readonly status: 'ok' | 'error' | 'aborted';
  readonly requestId: string;
  readonly eventId: string;
}

function* podDay(
  plan: PodPlan,
  seed: number,
  dayStart: number,
  dayLength: number,
  bursts: readonly Burst[],
  variant?: Variant,
  scrapes?: ScrapeOptions,
  meanConcurrency = false,
): Generator<SimulatedEvent> {
  const random = new Random(seed, 100 + plan.index);
  const arrivals: readonly Arrival[] =
    plan.kind === 'batch'
      ? batchArrivals(random, plan.requests, plan.model)
      : interactiveArrivals(random, plan.requests, bursts);
  const requests = arrivals.map((a) => request(random, a, variant?.promptScale?.[a.feature.name] ?? 1));
  const iso = (ms: number): string => new Date(Math.round(dayStart + ms)).toISOString();
  const pod = {
    pod: plan.name,
    gpuSku: plan.model.gpuSku,
    gpuCount: plan.model.gpuCount,
    model: plan.model.name,
  };

  // The pod was up before midnight; windows start at its own offset and run every 60 s.
  let windowStart = -Math.floor(random.uniform(60_000, 120_000));
  let restartAt = plan.restartAt;
  const windowsUntil = function* (until: number): Generator<SimulatedEvent> {
    while (windowStart + WINDOW_MS <= until) {
      let end = windowStart + WINDOW_MS;
      let nextStart = end;
      if (restartAt !== undefined && restartAt < end) {
        // The old sidecar reports its last partial window at shutdown; the new one starts counting
        // 15 s earlier (it saw the pod scheduled before the old one stopped): overlapping windows.
        end = Math.max(restartAt, windowStart + 1_000);
        nextStart = end - 15_000;
        restartAt = undefined;
      }
      yield {
        json: {
          type: 'capacity',
          schemaVersion: 1,
          eventId: random.uuid(),
          ...pod,
          windowStart: iso(windowStart),
          windowEnd: iso(end),
        },
      };
      windowStart = nextStart;
    }
  };

  const config =
    plan.kind === 'batch'
      ? { stepFactor: plan.model.stepFactor, maxSeqs: 256, tokenBudget: 8192 }
      : { stepFactor: plan.model.stepFactor, maxSeqs: 256, tokenBudget: 2048 };
  const costed = plan.model.stepCosts === undefined ? config : { ...config, costs: plan.model.stepCosts };
  const engine = plan.model.vllmLike === undefined ? costed : { ...costed, vllmLike: plan.model.vllmLike };
  const recorder =
    scrapes !== undefined && (scrapes.pods?.includes(plan.index) ?? true)
      ? new ScrapeRecorder(scrapes.intervalMs, plan.model.name, (index, atMs, text) => {
          scrapes.onScrape({
            pod: plan.name,
            podIndex: plan.index,
            model: plan.model.name,
            index,
            atMs,
            text,
          });
        })
      : undefined;
  const concurrency = meanConcurrency ? new PodConcurrency(requests) : undefined;
  let last = 0;
  for (const r of runEngine(
    recorder === undefined ? engine : { ...engine, onSteps: recorder.observe },
    requests,
  ) as Generator<Pending>) {
    yield* windowsUntil(r.finishedAt);
    last = Math.max(last, r.finishedAt);
    const event = usageEvent(r, pod, iso, plan.model.gpuCount);
    // As the sidecar: from the request's arrival to the end of its answer, on answers vLLM gave.
    const mean = concurrency?.end(r, r.finishedAt + 0.8);
    if (mean !== undefined && !r.refused)
      event.json.attributes = {
        ...(event.json.attributes as Record<string, string> | undefined),
        meanConcurrency: mean.toFixed(2),
      };
    yield event;
  }
  recorder?.finish(Math.max(dayLength, last));
  // Keep reporting until the day is over and the last request has finished (a job can run past midnight).
  yield* windowsUntil(Math.max(dayLength, last + 1) + WINDOW_MS);
}

function request(random: Random, arrival: Arrival, promptScale: number): Pending {
  const drawn = drawShape(random, arrival.feature);
  // A longer prompt is new text: the cached prefix stays what it was.
  const shape =
    promptScale === 1
      ? drawn
      : {
          ...drawn,
          promptTokens: Math.max(
            drawn.cachedPromptTokens + 1,
            Math.min(8128, Math.round(drawn.promptTokens * promptScale)),
          ),
        };
  const fate = random.next();
  // About 0.4% refused up front (4xx), 0.6% failing mid-generation (5xx), 0.5% abandoned by the client.
  const status = fate < 0.01 ? 'error' : fate < 0.015 ? 'aborted' : 'ok';
  const refused = fate < 0.004;
  const cut = random.next();
  return {
    arrival: arrival.at,
    feature: arrival.feature,
    tenant: random.pick(arrival.feature.tenants),
    promptTokens: shape.promptTokens,
    cachedPromptTokens: shape.cachedPromptTokens,
    target: status === 'ok' ? shape.completionTokens : Math.floor(shape.completionTokens * cut),
    refused,
    status,
    requestId: `cmpl-${random.uuid().replace(/-/g, '')}`,
    eventId: random.uuid(),
    scheduledAt: undefined,
    firstTokenAt: undefined,
    finishedAt: 0,
    produced: 0,
    gpuMs: 0,
  };
}

function usageEvent(
  r: Pending,
  pod: { pod: string; gpuSku: string; gpuCount: number; model: string },
  iso: (ms: number) => string,
  gpuCount: number,
): SimulatedEvent {
  // The sidecar sees the first byte and the end of the stream a little after the engine step.
  const json: Record<string, unknown> = {
    type: 'usage',
    schemaVersion: 1,
    eventId: r.eventId,
    requestId: r.requestId,
    tenant: r.tenant,
    feature: r.feature.name,
    model: pod.model,
    requestClass: r.feature.requestClass,
    pod: pod.pod,
    gpuSku: pod.gpuSku,
    gpuCount: pod.gpuCount,
    startedAt: iso(r.arrival),
    firstTokenAt: r.firstTokenAt === undefined ? null : iso(r.firstTokenAt + 0.4),
    finishedAt: iso(r.finishedAt + 0.8),
    promptTokens: r.refused ? 0 : r.promptTokens,
    completionTokens: r.produced,
    cachedPromptTokens: r.refused ? 0 : r.cachedPromptTokens,
    status: r.status,
    httpStatus: r.refused ? 400 : r.status === 'error' ? 500 : r.status === 'aborted' ? 499 : 200,
  };
  if (r.scheduledAt !== undefined) json.queueMs = Math.round((r.scheduledAt - r.arrival) * 1000) / 1000;
  if (r.stalls !== undefined && r.stalls.length > 0) json.attributes = { stalls: formatStalls(r.stalls) };
  return {
    json,
    truth: {
      eventId: r.eventId,
      tenant: r.tenant,
      feature: r.feature.name,
      gpuMicros: r.gpuMs * 1000 * gpuCount,
    },
  };
}
