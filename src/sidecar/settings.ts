import { DEFAULT_MAX_STREAM_EVENT } from './relay.js';
import { isMeteredPath, parseRoutePattern, type RouteRules } from './routes.js';
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors.js';
import { nameSchema } from '../domain/events.js';
import {
  DEFAULT_BODY_BUDGET,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_MAX_BODY,
  DEFAULT_TENANT_SHARE,
} from './budget.js';
import { DEFAULT_BUDGET_REFRESH_MS, DEFAULT_BUDGET_STALE_MS } from './spend-budgets.js';

/**
 * The sidecar's settings: command-line flags win over the environment (SIDECAR_*, and what the
 * Downward API and the Deployment put there). Names live here; vllm-deploy/ and its tests use them.
 */
export const SIDECAR_ENV = {
  upstream: 'SIDECAR_UPSTREAM',
  listen: 'SIDECAR_LISTEN',
  adminListen: 'SIDECAR_ADMIN_LISTEN',
  sink: 'SIDECAR_SINK',
  spoolDir: 'SIDECAR_SPOOL_DIR',
  tenantHeader: 'SIDECAR_TENANT_HEADER',
  featureHeader: 'SIDECAR_FEATURE_HEADER',
  classHeader: 'SIDECAR_CLASS_HEADER',
  apiKeysFile: 'SIDECAR_API_KEYS_FILE',
  missingTenant: 'SIDECAR_MISSING_TENANT',
  defaultClass: 'SIDECAR_DEFAULT_CLASS',
  priorities: 'SIDECAR_PRIORITIES',
  passThrough: 'SIDECAR_PASS_THROUGH',
  refusedRoutes: 'SIDECAR_REFUSED_ROUTES',
  maxStreamEventBytes: 'SIDECAR_MAX_STREAM_EVENT_BYTES',
  queueMax: 'SIDECAR_QUEUE_MAX',
  maxBodyBytes: 'SIDECAR_MAX_BODY_BYTES',
  bodyBudgetBytes: 'SIDECAR_BODY_BUDGET_BYTES',
  bodyTenantShare: 'SIDECAR_BODY_TENANT_SHARE',
  bodyTimeoutSeconds: 'SIDECAR_BODY_TIMEOUT_SECONDS',
  windowSeconds: 'SIDECAR_CAPACITY_WINDOW_SECONDS',
  drainSeconds: 'SIDECAR_DRAIN_SECONDS',
  budgetStateUrl: 'SIDECAR_BUDGET_STATE_URL',
  budgetRefreshSeconds: 'SIDECAR_BUDGET_REFRESH_SECONDS',
  budgetStaleSeconds: 'SIDECAR_BUDGET_STALE_SECONDS',
  budgetFailClosed: 'SIDECAR_BUDGET_FAIL_CLOSED',
  pod: 'POD_NAME',
  node: 'NODE_NAME',
  gpuSku: 'GPU_SKU',
  gpuCount: 'GPU_COUNT',
  model: 'MODEL_NAME',
  eventHubNamespace: 'EVENTHUB_FULLY_QUALIFIED_NAMESPACE',
  eventHubName: 'EVENTHUB_NAME',
  eventHubConnectionString: 'EVENTHUB_CONNECTION_STRING',
} as const;

export interface SidecarSettings {
  readonly upstream: URL;
  readonly listen: { readonly host: string; readonly port: number };
  /** /metrics, /healthz and /readyz of the sidecar itself (vLLM's /metrics passes through the proxy port). */
  readonly adminListen: { readonly host: string; readonly port: number };
  readonly sink: { readonly kind: 'eventhubs' } | { readonly kind: 'file'; readonly dir: string };
  readonly spoolDir: string;
  readonly headers: { readonly tenant: string; readonly feature: string; readonly requestClass: string };
  readonly apiKeysFile: string | undefined;
  /** What to do with a request that names no tenant: refuse it (400) or charge tenant "unknown". */
  readonly missingTenant: 'reject' | 'unknown';
  readonly defaultClass: string;
  /** Request class -> vLLM `priority` (lower runs first, with --scheduling-policy priority). */
  readonly priorities: ReadonlyMap<string, number>;
  /** Routes beside the defaults that do no model work and pass through, and metered routes refused (routes.ts). */
  readonly routes: RouteRules;
  /** Largest stream event the sidecar reads (characters); a larger one is relayed unread and counted. */
  readonly maxStreamEventChars: number;
  readonly queueMax: number;
  /** Largest completion request body (413 above it). */
  readonly maxBodyBytes: number;
  /** Request body bytes held at once across all metered requests (503 with Retry-After above it). */
  readonly bodyBudgetBytes: number;
  /** The fraction of the body budget one tenant may hold (429 with Retry-After above it). */
  readonly bodyTenantShare: number;
  /** Time a request body may take to arrive, from the headers to its last byte (408 after it). */
  readonly bodyTimeoutMs: number;
  readonly windowMs: number;
  /** After SIGTERM, how long requests in flight may run before they are cut off and metered as aborted. */
  readonly drainMs: number;
  /**
   * Spend budgets: the state document's URL (the `budget-state` container's `state.json`), read
   * every `refreshMs`, stale after `staleMs`, failing open unless `failClosed`; none: no budgets.
   */
  readonly budgets:
    | {
        readonly url: URL;
        readonly refreshMs: number;
        readonly staleMs: number;
        readonly failClosed: boolean;
      }
    | undefined;
  readonly pod: string;
  readonly node: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly model: string;
  readonly eventHub:
    | { readonly kind: 'identity'; readonly namespace: string; readonly name: string }
    | { readonly kind: 'connection-string'; readonly connectionString: string; readonly name: string }
    | undefined;
}

/**
 * The drain deadline by default: the shortest terminationGracePeriodSeconds in vllm-deploy/ (180 s,
 * interactive) less the sidecar's 10 s preStop pause, less 10 s for cutting off what is left,
 * the last capacity window and the flush, so the process exits before the kubelet kills it.
 */
export const DEFAULT_DRAIN_SECONDS = 160;

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'must be HOST:PORT')
  .transform((text) => {
    const at = text.lastIndexOf(':');
    return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
  });
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
  .transform((h) => h.toLowerCase());

// Names that go into every event: refused here, at start, rather than in every event at ingestion.
const eventName = nameSchema(Number.POSITIVE_INFINITY);

const schema = z.object({
  upstream: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('http://127.0.0.1:8000'),
  listen: hostPort.prefault('0.0.0.0:8080'),
  adminListen: hostPort.prefault('0.0.0.0:9090'),
  sink: z
    .string()
    .regex(/^(eventhubs|file:.+)$/, 'must be eventhubs or file:DIR')
    .default('eventhubs'),
  spoolDir: z.string().min(1).default('/var/spool/chargeback'),
  tenantHeader: headerName.default('x-tenant'),
  featureHeader: headerName.default('x-feature'),
  classHeader: headerName.default('x-request-class'),
  apiKeysFile: z.string().min(1).optional(),
  missingTenant: z.enum(['reject', 'unknown']).default('reject'),
  defaultClass: nameSchema().default('interactive'),
  priorities: z
    .string()
    .regex(/^([A-Za-z0-9_-]+=-?\d+)(,[A-Za-z0-9_-]+=-?\d+)*$/, 'must look like interactive=0,batch=10')
    .optional(),
  passThrough: z
    .string()
    .optional()
    .superRefine((text, ctx) => {
      for (const item of list(text)) {
        const pattern = parseRoutePattern(item);
        if ('error' in pattern) ctx.addIssue({ code: 'custom', message: pattern.error });
      }
    }),
  refusedRoutes: z
    .string()
    .optional()
    .superRefine((text, ctx) => {
      for (const path of list(text))
        if (!isMeteredPath(path))
          ctx.addIssue({ code: 'custom', message: `${path} is not a metered route (see docs/sidecar.md)` });
    }),
  maxStreamEventBytes: z.coerce.number().int().min(65_536).default(DEFAULT_MAX_STREAM_EVENT),
  queueMax: z.coerce.number().int().min(10).max(1_000_000).default(10_000),
  maxBodyBytes: z.coerce.number().int().min(1024).default(DEFAULT_MAX_BODY),
  bodyBudgetBytes: z.coerce.number().int().min(1024).default(DEFAULT_BODY_BUDGET),
  bodyTenantShare: z.coerce
    .number()
    .gt(0, 'must be a fraction above 0 and at most 1')
    .max(1, 'must be a fraction above 0 and at most 1')
    .default(DEFAULT_TENANT_SHARE),
  bodyTimeoutSeconds: z.coerce
    .number()
    .gt(0)
    .max(3600)
    .default(DEFAULT_BODY_TIMEOUT_MS / 1000),
  windowSeconds: z.coerce.number().int().min(1).max(3600).default(60),
  drainSeconds: z.coerce.number().min(0).max(3600).default(DEFAULT_DRAIN_SECONDS),
  budgetStateUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  budgetRefreshSeconds: z.coerce
    .number()
    .min(0.1)
    .max(300)
    .default(DEFAULT_BUDGET_REFRESH_MS / 1000),
  budgetStaleSeconds: z.coerce
    .number()
    .min(1)
    .max(86_400)
    .default(DEFAULT_BUDGET_STALE_MS / 1000),
  budgetFailClosed: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  pod: z.string().min(1, 'must name the pod (Downward API metadata.name)').pipe(eventName),
  node: z.string().min(1).default('unknown'),
  gpuSku: z.string().min(1, 'must name the VM size, e.g. Standard_NC24ads_A100_v4'),
  gpuCount: z.coerce.number().int().min(1),
  model: z.string().min(1, 'must name the served model').pipe(eventName),
  eventHubNamespace: z.string().min(1).optional(),
  eventHubName: z.string().min(1).default('usage'),
  eventHubConnectionString: z.string().min(1).optional(),
});

type Key = keyof typeof SIDECAR_ENV;

/** Reads flags (`--upstream`, ...) over environment variables; throws a ConfigurationError naming each bad setting. */
export function loadSidecarSettings(
  flags: Partial<Record<Key, string>>,
  env: Record<string, string | undefined> = process.env,
): SidecarSettings {
  const raw: Record<string, string | undefined> = {};
  for (const [key, name] of Object.entries(SIDECAR_ENV) as [Key, string][])
    raw[key] = flags[key] ?? env[name];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as Key;
      return `${SIDECAR_ENV[key]}: ${i.message}`;
    });
    throw new ConfigurationError(`sidecar configuration: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  if (s.bodyBudgetBytes < s.maxBodyBytes) {
    throw new ConfigurationError(
      `sidecar configuration: ${SIDECAR_ENV.bodyBudgetBytes} must be at least ${SIDECAR_ENV.maxBodyBytes}`,
    );
  }
  if (
    s.sink === 'eventhubs' &&
    s.eventHubNamespace === undefined &&
    s.eventHubConnectionString === undefined
  ) {
    throw new ConfigurationError(
      `sidecar configuration: --sink eventhubs needs ${SIDECAR_ENV.eventHubNamespace} (workload identity) or ${SIDECAR_ENV.eventHubConnectionString}`,
    );
  }
  return {
    upstream: new URL(s.upstream),
    listen: s.listen,
    adminListen: s.adminListen,
    sink:
      s.sink === 'eventhubs' ? { kind: 'eventhubs' } : { kind: 'file', dir: s.sink.slice('file:'.length) },
    spoolDir: s.spoolDir,
    headers: { tenant: s.tenantHeader, feature: s.featureHeader, requestClass: s.classHeader },
    apiKeysFile: s.apiKeysFile,
    missingTenant: s.missingTenant,
    defaultClass: s.defaultClass,
    routes: { passThrough: list(s.passThrough), refused: list(s.refusedRoutes) },
    maxStreamEventChars: s.maxStreamEventBytes,
    priorities: new Map(
      (s.priorities ?? '')
        .split(',')
        .filter((p) => p !== '')
        .map((p) => {
          const [name = '', value = '0'] = p.split('=');
          return [name, Number(value)] as const;
        }),
    ),
    queueMax: s.queueMax,
    maxBodyBytes: s.maxBodyBytes,
    bodyBudgetBytes: s.bodyBudgetBytes,
    bodyTenantShare: s.bodyTenantShare,
    bodyTimeoutMs: Math.round(s.bodyTimeoutSeconds * 1000),
    windowMs: s.windowSeconds * 1000,
    drainMs: Math.round(s.drainSeconds * 1000),
    budgets:
      s.budgetStateUrl === undefined
        ? undefined
        : {
            url: new URL(s.budgetStateUrl),
            refreshMs: Math.round(s.budgetRefreshSeconds * 1000),
            staleMs: Math.round(s.budgetStaleSeconds * 1000),
            failClosed: s.budgetFailClosed === 'true',
          },
    pod: s.pod,
    node: s.node,
    gpuSku: s.gpuSku,
    gpuCount: s.gpuCount,
    model: s.model,
    eventHub:
      s.eventHubConnectionString !== undefined
        ? { kind: 'connection-string', connectionString: s.eventHubConnectionString, name: s.eventHubName }
        : s.eventHubNamespace !== undefined
          ? { kind: 'identity', namespace: s.eventHubNamespace, name: s.eventHubName }
          : undefined,
  };
}

/** A comma-separated list, empty entries dropped. */
function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
