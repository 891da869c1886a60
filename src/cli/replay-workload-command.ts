import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_ATTRIBUTION_HEADERS,
  OpenAiReplayEndpoint,
  type AttributionHeaders,
} from '../adapters/openai/replay-endpoint.js';
import { WorkloadSampler } from '../domain/replay/sampler.js';
import { replayRequest, type ReplayApi } from '../domain/replay/workload.js';
import {
  DEFAULT_REPLAY_LIMITS,
  replayWorkload,
  type ReplayLimits,
  type ReplaySummary,
} from '../usecases/replay/replay-workload.js';
import { parseArgsOrThrow } from './args.js';
import { eachUsageEvent } from './event-input.js';
import { DEFAULT_PRICES_HELP, pricesPathOf, readPricesOption } from './prices-option.js';
import { UsageError } from './usage-error.js';

/** The environment variable whose value is sent as `Authorization: Bearer` (docs/cli.md). */
export const REPLAY_API_KEY_ENV = 'REPLAY_API_KEY';

const DEFAULT_SAMPLE = 500;
/** The cost gate's default --min-requests: every group the gate projects is measured enough. */
const DEFAULT_PER_GROUP = 20;

export const REPLAY_WORKLOAD_HELP = `Usage: chargeback replay-workload --events PATH --model NAME --endpoint URL [--sample N]
       [--per-group N] [--seed S] [--concurrency N] [--rate RPS] [--timeout-ms MS] [--api chat|completions]
       [--tenant NAME] [--tenant-header NAME] [--feature-header NAME] [--class-header NAME]
       [--prices FILE]

Replays the shape of real traffic through an endpoint (the usage sidecar in front of one model
version), so the sidecar's events of two replays, the version in service and a canary, can be
compared by 'chargeback cost-gate --model NAME'. Events carry no text: each request repeats one
event's tenant, feature and request class (in the sidecar's headers), a synthetic prompt of about
its prompt tokens and exactly its completion tokens (max_tokens = min_tokens, vLLM's ignore_eos),
greedy and not streamed. The sample is the model's completed generations whose eventId hashes
smallest, so two replays of the same events send the same requests.
  --events PATH        usage events (NDJSON file or folder) of real traffic
  --model NAME         the served model name: the events of that model, and the requests' model
  --endpoint URL       the sidecar's base URL (http://host:port or .../v1)
  --sample N           requests in the sample (default ${DEFAULT_SAMPLE})
  --per-group N        then at least N requests of every (feature, requestClass) of the model
                       (default ${DEFAULT_PER_GROUP}, the cost gate's --min-requests; 0: none), repeating a
                       group's events when it has fewer
  --seed S             another sample of the same events (the hash of S:eventId)
  --concurrency N      requests in flight at once (default ${DEFAULT_REPLAY_LIMITS.concurrency})
  --rate RPS           requests started per second at most (default: no limit)
  --timeout-ms MS      one request's longest time (default ${DEFAULT_REPLAY_LIMITS.timeoutMs})
  --api chat|completions  /v1/chat/completions (default) or /v1/completions
  --tenant NAME        bill every request to NAME instead of the event's tenant: through a sidecar
                       that publishes to the usage hub, the replay is otherwise charged to the
                       tenants it names (the cost gate sums over tenants, so its verdict is the same)
  --tenant-header, --feature-header, --class-header NAME  the sidecar's attribution headers
                       (default ${DEFAULT_ATTRIBUTION_HEADERS.tenant}, ${DEFAULT_ATTRIBUTION_HEADERS.feature}, ${DEFAULT_ATTRIBUTION_HEADERS.requestClass})
  --prices FILE        the price card the events are read with (default: ${DEFAULT_PRICES_HELP})
An API key for the endpoint, when the sidecar needs one, is read from ${REPLAY_API_KEY_ENV}.
A request that got an answer is never sent again (the sidecar metered it); a refused connection is
tried again up to ${DEFAULT_REPLAY_LIMITS.refusedRetries} times.
Exit 0 when every request was answered, 1 when any failed (a partial replay is weak evidence),
2 on bad arguments or events without that model.`;

export interface ReplayWorkloadOptions {
  readonly events: string;
  readonly model: string;
  readonly endpoint: URL;
  readonly sample: number;
  /** Fewest requests of each (feature, requestClass) of the model. */
  readonly perGroup: number;
  readonly seed?: string;
  readonly api: ReplayApi;
  /** Every request billed to this tenant instead of the event's. */
  readonly tenant?: string;
  readonly headers: AttributionHeaders;
  readonly limits: ReplayLimits;
  readonly pricesPath: string;
}

export interface ReplayWorkloadDeps {
  readonly fetch?: typeof fetch;
  /** Milliseconds, for pacing. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly env?: Record<string, string | undefined>;
}

export interface ReplayWorkloadOutcome {
  readonly summary: ReplaySummary;
  /** The model's completed generations in --events, and how many were sampled. */
  readonly eligible: number;
  readonly sampled: number;
  /** Of `sampled`, those added so that every group reaches --per-group. */
  readonly added: number;
  readonly warnings: readonly string[];
  readonly code: 0 | 1;
}

function perGroupOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PER_GROUP;
  if (!/^\d{1,6}$/.test(value))
    throw new UsageError(`--per-group must be a whole number from 0 to 999999, got "${value}"`);
  return Number(value);
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

export function parseReplayWorkloadArgs(args: readonly string[]): ReplayWorkloadOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    events: { type: 'string' },
    model: { type: 'string' },
    endpoint: { type: 'string' },
    sample: { type: 'string' },
    'per-group': { type: 'string' },
    seed: { type: 'string' },
    concurrency: { type: 'string' },
    rate: { type: 'string' },
    'timeout-ms': { type: 'string' },
    api: { type: 'string' },
    tenant: { type: 'string' },
    'tenant-header': { type: 'string' },
    'feature-header': { type: 'string' },
    'class-header': { type: 'string' },
    prices: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const text = (name: string): string | undefined =>
    typeof values[name] === 'string' ? values[name] : undefined;
  const missing = ['events', 'model', 'endpoint'].filter((name) => (text(name) ?? '') === '');
  if (missing.length > 0)
    throw new UsageError(`replay-workload needs ${missing.map((m) => `--${m}`).join(', ')}`);
  const endpointText = text('endpoint') ?? '';
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new UsageError(`--endpoint must be an http(s) URL, got "${endpointText}"`);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')
    throw new UsageError(`--endpoint must be an http(s) URL, got "${endpointText}"`);
  const whole = (name: string, fallback: number, max: number): number => {
    const value = text(name);
    if (value === undefined) return fallback;
    if (!/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > max)
      throw new UsageError(`--${name} must be a whole number from 1 to ${max}, got "${value}"`);
    return Number(value);
  };
  const rateText = text('rate');
  const rate = rateText === undefined ? undefined : Number(rateText);
  if (rate !== undefined && (rateText?.trim() === '' || !Number.isFinite(rate) || rate <= 0))
    throw new UsageError(`--rate must be a number of requests a second > 0, got "${rateText ?? ''}"`);
  const api = text('api') ?? 'chat';
  if (api !== 'chat' && api !== 'completions')
    throw new UsageError(`--api must be chat or completions, got "${api}"`);
  const header = (name: string, fallback: string): string => {
    const value = text(name);
    if (value === undefined) return fallback;
    if (!HEADER_NAME.test(value))
      throw new UsageError(`--${name} must be an HTTP header name, got "${value}"`);
    return value.toLowerCase();
  };
  const seed = text('seed');
  if (seed?.trim() === '') throw new UsageError('--seed must not be empty');
  const tenant = text('tenant');
  if (tenant?.trim() === '') throw new UsageError('--tenant must not be empty');
  return {
    events: text('events') ?? '',
    model: text('model') ?? '',
    endpoint,
    sample: whole('sample', DEFAULT_SAMPLE, 1_000_000),
    perGroup: perGroupOf(text('per-group')),
    ...(seed === undefined ? {} : { seed }),
    api,
    ...(tenant === undefined ? {} : { tenant }),
    headers: {
      tenant: header('tenant-header', DEFAULT_ATTRIBUTION_HEADERS.tenant),
      feature: header('feature-header', DEFAULT_ATTRIBUTION_HEADERS.feature),
      requestClass: header('class-header', DEFAULT_ATTRIBUTION_HEADERS.requestClass),
    },
    limits: {
      ...DEFAULT_REPLAY_LIMITS,
      concurrency: whole('concurrency', DEFAULT_REPLAY_LIMITS.concurrency, 1024),
      timeoutMs: whole('timeout-ms', DEFAULT_REPLAY_LIMITS.timeoutMs, 3_600_000),
      ...(rate === undefined ? {} : { requestsPerSecond: rate }),
    },
    pricesPath: pricesPathOf(values.prices),
  };
}

/** Reads the events, samples the model's requests and sends them through the endpoint. */
export async function runReplayWorkload(
  options: ReplayWorkloadOptions,
  deps: ReplayWorkloadDeps = {},
): Promise<ReplayWorkloadOutcome> {
  const prices = await readPricesOption(options.pricesPath);
  // One event at a time: a day of tens of millions is sampled in the memory of its sample.
  const sampler = new WorkloadSampler(options.model, options.sample, options.seed, options.perGroup);
  const scan = await eachUsageEvent(options.events, prices, '--events', (u) => {
    sampler.add(u);
  });
  const sample = sampler.result();
  if (sample.chosen.length === 0) {
    const models = [...scan.models].sort();
    const refused =
      scan.rejected === 0 ? '' : `; ${scan.rejected} line(s) refused, first: ${scan.firstRejected[0] ?? ''}`;
    throw new UsageError(
      `--events ${options.events} has no completed generation of model ${options.model}` +
        (models.length === 0
          ? ` (no valid usage event${refused})`
          : ` (models there: ${models.join(', ')}${refused})`),
    );
  }
  const warnings = [
    ...(scan.rejected > 0
      ? [`${scan.rejected} line(s) of --events refused, first: ${scan.firstRejected[0] ?? ''}`]
      : []),
    ...(sample.notGenerations > 0
      ? [
          `${sample.notGenerations} ok event(s) of ${options.model} generated no tokens (pooling, embeddings) and are not replayed`,
        ]
      : []),
  ];
  const apiKey = (deps.env ?? process.env)[REPLAY_API_KEY_ENV];
  const copies = new Map<string, number>();
  const endpoint = new OpenAiReplayEndpoint({
    baseUrl: options.endpoint,
    headers: options.headers,
    ...(apiKey === undefined || apiKey === '' ? {} : { apiKey }),
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
  });
  const summary = await replayWorkload(
    sample.chosen.map((record) => {
      const copy = (copies.get(record.eventId) ?? 0) + 1;
      copies.set(record.eventId, copy);
      return replayRequest(record, options.model, options.api, options.tenant, copy);
    }),
    options.limits,
    { endpoint, now: deps.now ?? Date.now, sleep: deps.sleep ?? ((ms) => sleep(ms)) },
  );
  if (summary.otherLength > 0)
    warnings.push(
      `${summary.otherLength} answer(s) report another completion length than asked: the engine ignores min_tokens or ignore_eos (vLLM honours both), so the two replays may not have done the same work`,
    );
  return {
    summary,
    eligible: sample.eligible,
    sampled: sample.chosen.length,
    added: sample.added,
    warnings,
    code: summary.failed === 0 ? 0 : 1,
  };
}

/** The lines the command prints: the counts on stdout, failures by kind on stderr. */
export function replayWorkloadLines(
  options: ReplayWorkloadOptions,
  outcome: ReplayWorkloadOutcome,
): { readonly stdout: readonly string[]; readonly stderr: readonly string[] } {
  const s = outcome.summary;
  const stdout = [
    `replayed ${outcome.sampled} of ${outcome.eligible} completed generation(s) of ${options.model}` +
      (outcome.added > 0 ? ` (${outcome.added} of them to reach ${options.perGroup} in every group)` : '') +
      ` through ${options.endpoint.origin}: sent ${s.sent}, answered ${s.answered}, failed ${s.failed}`,
  ];
  const stderr = [
    ...outcome.warnings.map((w) => `warning: ${w}`),
    ...s.failures.map((f) => `${f.count} failed: ${f.kind} (first: ${f.first})`),
    ...(s.failed > 0
      ? [
          `the replay is partial (${s.failed} of ${s.sent} failed): weak evidence for the cost gate, which refuses a group measured fewer than --min-requests times but not one measured on a skewed part of the sample; replay again into an empty events folder`,
        ]
      : []),
  ];
  return { stdout, stderr };
}
