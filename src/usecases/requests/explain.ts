/**
 * A request's cost explained (`chargeback explain`, `GET /api/requests/{id}?tenant=`): its phases
 * and tokens, what its GPU-seconds paid for, how busy its pod was, and how it compares with its
 * tenant's feature's median that day. Lookups are by tenant and request id: a client chooses its
 * ids, so an id is only a request within its tenant. Plain, JSON-ready data; renderExplanation
 * makes the text a person reads.
 */
import type { RequestCost } from '../../domain/requests/request-cost.js';
import { escapeControlCharacters } from '../../domain/text.js';
import { formatTimestamp } from '../../domain/timestamp.js';
import type { FeatureCosts, RequestSource } from '../../ports/request-store.js';
import { featureCostsOf, findRequests, scanRequests } from './request-file.js';

export interface Attempt {
  readonly requestId: string;
  readonly eventId: string;
  readonly tenant: string;
  readonly feature: string;
  readonly model: string;
  readonly requestClass: string;
  readonly pod: string;
  readonly gpus: string;
  readonly status: string;
  readonly metered: boolean;
  readonly startedAt: string;
  readonly firstTokenAt: string | null;
  readonly finishedAt: string;
  /** Milliseconds: queue (vLLM's), prefill (to the first token), decode (to the end), total. */
  readonly phasesMs: {
    readonly queue: number;
    readonly prefill: number;
    readonly decode: number;
    readonly total: number;
  };
  readonly tokens: { readonly prompt: number; readonly cachedPrompt: number; readonly completion: number };
  /** GPU-seconds with 6 decimals, as text: total and what it paid for. */
  readonly gpuSeconds: {
    readonly total: string;
    readonly prefill: string;
    readonly decode: string;
    readonly fixedShare: string;
    readonly idleShare: string;
  };
  readonly costUsd: string;
  readonly idleCostUsd: string;
  /** Requests active on its pod while it was, itself included. */
  readonly concurrency: { readonly mean: number; readonly max: number };
  /** Its cost against its feature's that day; undefined when the index has no figures for it. */
  readonly featureDay?: {
    readonly requests: number;
    readonly medianCostUsd: string;
    readonly p90CostUsd: string;
    readonly timesMedian: number | null;
  };
}

export interface Explanation {
  readonly date: string;
  readonly tenant: string;
  readonly requestId: string;
  /**
   * Every attempt the tenant made under the id (a retry may reuse it), by start. Another tenant's
   * use of the same id is not here, nor hinted at: for that tenant's id alone, this is empty.
   */
  readonly attempts: readonly Attempt[];
}

export async function explainRequest(
  source: RequestSource,
  date: string,
  tenant: string,
  requestId: string,
): Promise<Explanation> {
  const index = await source.index();
  const found = await findRequests(source, tenant, requestId);
  found.sort((a, b) => a.startedAt - b.startedAt || (a.eventId < b.eventId ? -1 : 1));
  return {
    date,
    tenant,
    requestId,
    attempts: found.map((c) => attempt(c, featureCostsOf(index, c.tenant, c.feature))),
  };
}

/** The `n` most expensive requests of a tenant's feature that day, most expensive first. */
export async function topRequests(
  source: RequestSource,
  tenant: string,
  feature: string,
  n: number,
): Promise<Attempt[]> {
  const index = await source.index();
  const top: RequestCost[] = [];
  for await (const c of scanRequests(source, tenant)) {
    if (c.feature !== feature) continue;
    top.push(c);
    if (top.length > 4 * n + 64) {
      top.sort(costliest);
      top.length = n;
    }
  }
  return top
    .sort(costliest)
    .slice(0, n)
    .map((c) => attempt(c, featureCostsOf(index, tenant, feature)));
}

function costliest(a: RequestCost, b: RequestCost): number {
  return (
    b.nanos - a.nanos ||
    (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0) ||
    (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)
  );
}

function attempt(c: RequestCost, feature: FeatureCosts | undefined): Attempt {
  const active = c.startedAt + Math.round(c.queueMs * 1000);
  const firstToken = c.firstTokenAt ?? c.finishedAt;
  return {
    requestId: c.requestId,
    eventId: c.eventId,
    tenant: c.tenant,
    feature: c.feature,
    model: c.model,
    requestClass: c.requestClass,
    pod: c.pod,
    gpus: `${c.gpuCount} × ${c.gpuSku}`,
    status: c.status,
    metered: c.metered,
    startedAt: formatTimestamp(c.startedAt),
    firstTokenAt: c.firstTokenAt === null ? null : formatTimestamp(c.firstTokenAt),
    finishedAt: formatTimestamp(c.finishedAt),
    phasesMs: {
      queue: c.queueMs,
      prefill: Math.max(0, firstToken - Math.min(active, firstToken)) / 1000,
      decode: (c.finishedAt - firstToken) / 1000,
      total: (c.finishedAt - c.startedAt) / 1000,
    },
    tokens: { prompt: c.promptTokens, cachedPrompt: c.cachedPromptTokens, completion: c.completionTokens },
    gpuSeconds: {
      total: decimal(c.gpuMicros, 6),
      prefill: decimal(c.prefillGpuMicros, 6),
      decode: decimal(c.decodeGpuMicros, 6),
      fixedShare: decimal(c.fixedGpuMicros, 6),
      idleShare: decimal(c.idleGpuMicros, 6),
    },
    costUsd: decimal(c.nanos, 9),
    idleCostUsd: decimal(c.idleNanos, 9),
    concurrency: { mean: Math.round(c.meanConcurrency * 100) / 100, max: c.maxConcurrency },
    ...(feature === undefined
      ? {}
      : {
          featureDay: {
            requests: feature.requests,
            medianCostUsd: decimal(feature.medianNanos, 9),
            p90CostUsd: decimal(feature.p90Nanos, 9),
            timesMedian:
              feature.medianNanos > 0 ? Math.round((c.nanos / feature.medianNanos) * 100) / 100 : null,
          },
        }),
  };
}

function decimal(value: number, places: number): string {
  const digits = String(Math.round(value)).padStart(places + 1, '0');
  return `${digits.slice(0, -places)}.${digits.slice(-places)}`;
}

/** What a person reads: one block of lines per attempt; names from headers escaped, one per line. */
export function renderExplanation(e: Explanation): string {
  const lines = [
    `request ${safe(e.requestId)} of tenant ${safe(e.tenant)} on ${e.date}: ${e.attempts.length} attempt(s)`,
  ];
  for (const a of e.attempts) lines.push('', ...attemptLines(a));
  return lines.join('\n');
}

export function renderTop(
  tenant: string,
  feature: string,
  date: string,
  attempts: readonly Attempt[],
): string {
  const lines = [
    `the ${attempts.length} most expensive request(s) of tenant ${safe(tenant)}'s feature ${safe(feature)} on ${date}:`,
  ];
  attempts.forEach((a, i) => {
    lines.push(
      `${String(i + 1).padStart(3)}. ${a.costUsd} USD  ${a.gpuSeconds.total} GPU-s  ${safe(a.requestId)}  ` +
        `tenant ${safe(a.tenant)}, ${a.tokens.prompt}+${a.tokens.completion} tokens, ${a.phasesMs.total} ms` +
        (a.featureDay?.timesMedian === null || a.featureDay === undefined
          ? ''
          : `, ${a.featureDay.timesMedian}x median`),
    );
  });
  return lines.join('\n');
}

function attemptLines(a: Attempt): string[] {
  const g = a.gpuSeconds;
  const lines = [
    `  event ${safe(a.eventId)}: ${a.status}${a.metered ? '' : ' (unmetered: no capacity window covered it, charged 0)'}`,
    `  tenant ${safe(a.tenant)} / feature ${safe(a.feature)} / model ${safe(a.model)} / ${safe(a.requestClass)}`,
    `  pod ${safe(a.pod)} (${safe(a.gpus)})`,
    `  from ${a.startedAt} to ${a.finishedAt}: queue ${a.phasesMs.queue} ms, prefill ${a.phasesMs.prefill} ms, ` +
      `decode ${a.phasesMs.decode} ms, ${a.phasesMs.total} ms in all`,
    `  tokens: ${a.tokens.prompt} prompt (${a.tokens.cachedPrompt} from the prefix cache), ${a.tokens.completion} completion`,
    `  cost: ${a.costUsd} USD for ${g.total} GPU-seconds = ${g.prefill} prefill + ${g.decode} decode + ` +
      `${g.fixedShare} shared fixed + ${g.idleShare} idle share`,
    `  its pod ran ${a.concurrency.mean} requests at once on average while it ran, ${a.concurrency.max} at most ` +
      `(itself included)`,
  ];
  const f = a.featureDay;
  if (f !== undefined)
    lines.push(
      `  feature ${safe(a.feature)} that day: ${f.requests} requests, median ${f.medianCostUsd} USD, p90 ${f.p90CostUsd} USD` +
        (f.timesMedian === null ? '' : `; this one cost ${f.timesMedian}x the median`),
    );
  return lines;
}

function safe(text: string): string {
  return escapeControlCharacters(text);
}
