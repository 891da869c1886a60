import type { PodIdentity } from '../src/sidecar/proxy-deps.js';
import { simulateDay } from '../src/simulator/simulate.js';
import { EventHubPartitions } from './event-hub-delivery.js';

export interface FleetTrafficOptions {
  readonly date: string;
  readonly pods: number;
  readonly seed: number;
  readonly requests: number;
  /** Events the sidecar sends twice as separate messages (counted as duplicates by eventId). */
  readonly duplicateRate: number;
  readonly partitions: number;
}

/**
 * A simulated day on its way through Event Hubs: each event enqueued on its pod's partition a
 * moment after it ended, plus a few messages no ledger should accept.
 */
export function fleetTraffic(options: FleetTrafficOptions): {
  hub: EventHubPartitions;
  events: number;
  hostile: number;
  /** Each pod of the fleet, with the span its capacity windows cover. */
  pods: Map<string, { identity: PodIdentity; from: string; to: string }>;
} {
  const hub = new EventHubPartitions(options.partitions);
  const pods = new Map<string, { identity: PodIdentity; from: string; to: string }>();
  let events = 0;
  // npm start's day has budgets: its sidecars put meanConcurrency on each event, as those that enforce them do.
  for (const event of simulateDay({ ...options, meanConcurrency: true })) {
    const json = event.json;
    if (json.type === 'capacity') {
      const pod = String(json.pod);
      const [from, to] = [String(json.windowStart), String(json.windowEnd)];
      const known = pods.get(pod);
      if (known === undefined)
        pods.set(pod, {
          identity: {
            pod,
            gpuSku: String(json.gpuSku),
            gpuCount: Number(json.gpuCount),
            model: String(json.model),
          },
          from,
          to,
        });
      else
        pods.set(pod, {
          ...known,
          from: from < known.from ? from : known.from,
          to: to > known.to ? to : known.to,
        });
    }
    const end = String(json.type === 'usage' ? json.finishedAt : json.windowEnd);
    hub.send(json, String(json.pod), new Date(Date.parse(end) + 1500).toISOString());
    events += 1;
  }
  const hostile = hostileMessages(options.date);
  for (const body of hostile) hub.send(body, 'hostile', `${options.date}T12:00:00.000Z`);
  return { hub, events, hostile: hostile.length, pods };
}

/** Messages that must each become a dead letter with a reason naming what is wrong. */
export function hostileMessages(date: string): unknown[] {
  const usage = {
    type: 'usage',
    schemaVersion: 1,
    eventId: 'hostile-1',
    requestId: 'r',
    tenant: 'contoso',
    feature: 'chat',
    model: 'llama-3.1-8b-instruct',
    requestClass: 'interactive',
    pod: 'hostile',
    gpuSku: 'Standard_NC24ads_A100_v4',
    gpuCount: 1,
    startedAt: `${date}T12:00:00.000Z`,
    firstTokenAt: `${date}T12:00:00.200Z`,
    finishedAt: `${date}T12:00:01.000Z`,
    promptTokens: 10,
    completionTokens: 5,
    status: 'ok',
  };
  return [
    '{"type":"usage","schemaVersion":1,"eventId":"truncated',
    { ...usage, eventId: 'hostile-negative', completionTokens: -5 },
    { ...usage, eventId: 'hostile-sku', gpuSku: 'Standard_NC6' },
    { ...usage, eventId: 'hostile-tenant', tenant: 'evil\u001b[31m' },
    {
      type: 'evaluation',
      schemaVersion: 1,
      eventId: 'wrong-hub',
      model: 'llama-3.1-8b-instruct',
      modelVersion: '7',
      dataset: 'support-golden@3',
      metrics: { exact_match: 0.81 },
      evaluatedAt: `${date}T12:00:00.000Z`,
    },
  ];
}

/** A pod of the fleet serving `model` whose capacity covers `from` to `to` (ISO instants). */
export function podServing(
  pods: ReturnType<typeof fleetTraffic>['pods'],
  model: string,
  from: string,
  to: string,
): PodIdentity {
  const found = [...pods.values()]
    .filter((p) => p.identity.model === model && p.from <= from && p.to >= to)
    .sort((a, b) => (a.identity.pod < b.identity.pod ? -1 : 1))[0];
  if (found === undefined)
    throw new Error(`no pod of the simulated fleet serves ${model} from ${from} to ${to}`);
  return found.identity;
}
