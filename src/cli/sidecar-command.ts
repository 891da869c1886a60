import { loadSidecarSettings, type SidecarSettings } from '../sidecar/settings.js';
import { spoolOnCrash, startSidecar, type RunningSidecar } from '../sidecar/sidecar.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const SIDECAR_HELP = `Usage: chargeback sidecar [--upstream URL] [--listen HOST:PORT] [--sink eventhubs|file:DIR]

Runs beside vLLM in its pod: a reverse proxy that meters every request on which vLLM spends GPU
time (chat and text completions, /invocations, the Responses API, Anthropic /v1/messages,
/inference/v1/generate, embeddings, pooling, classify, score, rerank, audio transcriptions and
translations), each in its own usage format (tenant, feature and request class from x-tenant,
x-feature and x-request-class, or bound to the client's API key); passes through the routes that
do no model work (/health, /v1/models, /metrics, /tokenize, ...; more with SIDECAR_PASS_THROUGH),
refuses any other route with 404, and publishes one usage event per request and a capacity event
per minute to Event Hubs (partition key: the pod), or to
NDJSON files. When Event Hubs is unreachable, events are spooled to disk and replayed in order.
Every event is journalled on the spool disk as it is made, so a killed process loses none.
On SIGTERM it lets requests in flight finish for up to SIDECAR_DRAIN_SECONDS (default 160, inside
the pod's terminationGracePeriodSeconds less its preStop pause), then cuts off what still runs
(each metered as aborted), sends the last capacity window, flushes and exits; a second SIGTERM or
SIGINT cuts off at once.

Options (each also from the environment, in brackets):
  --upstream URL        vLLM (SIDECAR_UPSTREAM, default http://127.0.0.1:8000)
  --listen HOST:PORT    the proxy (SIDECAR_LISTEN, default 0.0.0.0:8080)
  --admin HOST:PORT     /metrics, /healthz, /readyz (SIDECAR_ADMIN_LISTEN, default 0.0.0.0:9090)
  --sink eventhubs|file:DIR  where events go (SIDECAR_SINK, default eventhubs)
  --spool DIR           spool folder (SIDECAR_SPOOL_DIR, default /var/spool/chargeback)
  -h, --help            this text

Also from the environment: POD_NAME, NODE_NAME, GPU_SKU, GPU_COUNT, MODEL_NAME (required, the
Downward API and the Deployment set them), EVENTHUB_FULLY_QUALIFIED_NAMESPACE and EVENTHUB_NAME
(workload identity) or EVENTHUB_CONNECTION_STRING, SIDECAR_TENANT_HEADER, SIDECAR_FEATURE_HEADER,
SIDECAR_CLASS_HEADER, SIDECAR_API_KEYS_FILE (SHA-256 digests of API keys to the tenant, features
and classes each may bill; with it, a metered request needs a known Authorization: Bearer key or
gets 401, and a header the key does not allow gets 403), SIDECAR_MISSING_TENANT (reject|unknown),
SIDECAR_DEFAULT_CLASS, SIDECAR_PRIORITIES (e.g. interactive=0,batch=10; a class not named gets the
least urgent, and a client's own priority is never forwarded), SIDECAR_PASS_THROUGH (more routes
that do no model work, e.g. "POST /sleep,GET /is_sleeping"), SIDECAR_REFUSED_ROUTES (metered routes
to refuse with 403, e.g. /v1/audio/transcriptions), SIDECAR_MAX_STREAM_EVENT_BYTES (largest stream
event read, default 8 MiB; a larger one is relayed unread and counted), SIDECAR_QUEUE_MAX,
SIDECAR_CAPACITY_WINDOW_SECONDS, SIDECAR_MAX_BODY_BYTES (one request body, default 16 MiB; 413
above it), SIDECAR_BODY_BUDGET_BYTES (all bodies held at once, counted as their bytes arrive,
default 128 MiB; 503 above it), SIDECAR_BODY_TENANT_SHARE (the fraction of that budget one tenant
may hold, default 0.25, at least one body; 429 above it) and SIDECAR_BODY_TIMEOUT_SECONDS (time a
request body may take to arrive, default 30; 408 and the connection closed after it).
Spend budgets: SIDECAR_BUDGET_STATE_URL (the published state blob; unset, no budgets),
SIDECAR_BUDGET_REFRESH_SECONDS (how often it is read, default 5), SIDECAR_BUDGET_STALE_SECONDS (age
past which it is stale, default 60) and SIDECAR_BUDGET_FAIL_CLOSED (true: with a stale state, 503
for requests a budget covers; default false, serve them).`;

export function parseSidecarArgs(
  args: readonly string[],
  env: Record<string, string | undefined> = process.env,
): SidecarSettings | 'help' {
  const { values } = parseArgsOrThrow(args, {
    upstream: { type: 'string' },
    listen: { type: 'string' },
    admin: { type: 'string' },
    sink: { type: 'string' },
    spool: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const flag = (name: string): string | undefined =>
    typeof values[name] === 'string' ? values[name] : undefined;
  return loadSidecarSettings(
    {
      upstream: flag('upstream'),
      listen: flag('listen'),
      adminListen: flag('admin'),
      sink: flag('sink'),
      spoolDir: flag('spool'),
    },
    env,
  );
}

/** Runs until SIGTERM or SIGINT, then drains and resolves. */
export async function runSidecar(settings: SidecarSettings, log: (m: string) => void): Promise<void> {
  let sidecar: RunningSidecar;
  try {
    sidecar = await startSidecar(settings, undefined, log);
  } catch (error) {
    // A port in use or not on this host, a spool folder or key file that cannot be made or read:
    // the system refused what --listen, --admin, --spool or the settings named (contracts.md §6: exit 2).
    if (typeof (error as NodeJS.ErrnoException).syscall === 'string') {
      throw new UsageError(`cannot start the sidecar: ${(error as Error).message}`);
    }
    throw error;
  }
  spoolOnCrash(sidecar, log);
  const port = (server: { address(): unknown }): string =>
    String((server.address() as { port?: number } | null)?.port);
  log(
    `sidecar: proxying ${settings.listen.host}:${port(sidecar.proxy)} -> ${settings.upstream.href}; admin on :${port(sidecar.admin)}`,
  );
  await untilSignalled(sidecar, settings.drainMs, log);
  log('sidecar: stopped');
}

/**
 * The first SIGTERM or SIGINT drains (up to the drain deadline); a second one during the drain does
 * not kill the process, which would lose the streams in flight and the last capacity window: it
 * cuts the requests in flight off now (each metered as aborted), and the shutdown goes on with the
 * last window and the flush. Any later one is only logged. Resolves when the sidecar has stopped.
 */
function untilSignalled(sidecar: RunningSidecar, drainMs: number, log: (m: string) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let stopping: Promise<void> | undefined;
    let cut = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping === undefined) {
        log(`sidecar: ${signal}, draining (requests in flight are cut off after ${drainMs / 1000} s)`);
        stopping = sidecar.shutdown().finally(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        });
        stopping.then(resolve, reject);
      } else if (!cut) {
        cut = true;
        log(`sidecar: ${signal} again while draining: cutting off the requests in flight now`);
        void sidecar.cutOff(`the sidecar is shutting down: ${signal} during its drain`);
      } else {
        log(`sidecar: ${signal} again: already cutting off and flushing, then exiting`);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
