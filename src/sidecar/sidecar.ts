import { requestLogLine } from './request-log.js';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { loadApiKeys } from './attribution.js';
import { CapacityClock } from './capacity.js';
import { DefaultAzureCredential } from '@azure/identity';
import { SidecarMetrics } from './metrics.js';
import { BudgetStateReader, blobReader } from './spend-budgets.js';
import { EventPipe, type Sender } from './pipe.js';
import { createProxy } from './proxy.js';
import { EventHubsSender, FileSender } from './senders.js';
import type { SidecarSettings } from './settings.js';

export interface RunningSidecar {
  readonly proxy: Server;
  readonly admin: Server;
  readonly pipe: EventPipe;
  readonly metrics: SidecarMetrics;
  /**
   * SIGTERM: stop taking requests, let those in flight finish until the drain deadline
   * (`settings.drainMs`), cut off what is still running then (each metered as aborted with what it
   * produced), the last capacity window, flush, close. Called again, the same shutdown.
   */
  shutdown(): Promise<void>;
  /** Shuts down without waiting any longer for the requests in flight: they are cut off now. */
  cutOff(reason: string): Promise<void>;
  /**
   * For a process about to die: the last capacity window, then every event only in memory, written
   * to the spool synchronously (the next process sends them). Returns how many were written.
   */
  spoolNow(): number;
}

/** Starts the proxy and the admin server (/metrics, /healthz, /readyz) and begins capacity windows. */
export async function startSidecar(
  settings: SidecarSettings,
  sender: Sender = settings.sink.kind === 'file'
    ? new FileSender(settings.sink.dir, settings.pod)
    : EventHubsSender.fromSettings(settings),
  log: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
  // Standard output is the container log Azure Monitor collects; the sidecar's own messages go to stderr.
  requestLog: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<RunningSidecar> {
  const metrics = new SidecarMetrics(settings.spoolDir);
  const pipe = new EventPipe(sender, {
    spoolDir: settings.spoolDir,
    queueMax: settings.queueMax,
    counters: metrics.pipeCounters(),
    log,
  });
  pipe.start();
  const identity = {
    pod: settings.pod,
    gpuSku: settings.gpuSku,
    gpuCount: settings.gpuCount,
    model: settings.model,
  };
  const emit = (event: Record<string, unknown>): void => {
    pipe.enqueue(event);
    const line = requestLogLine(event);
    if (line !== undefined) requestLog(line);
  };
  const budgets = budgetReader(settings, metrics, log);
  if (budgets !== undefined) await budgets.start();
  const proxy = createProxy({
    ...(budgets === undefined ? {} : { budgets }),
    upstream: settings.upstream,
    rules: {
      headers: settings.headers,
      apiKeys: loadApiKeys(settings.apiKeysFile),
      missingTenant: settings.missingTenant,
      defaultClass: settings.defaultClass,
    },
    priorities: settings.priorities,
    bodies: {
      max: settings.maxBodyBytes,
      budget: settings.bodyBudgetBytes,
      tenantShare: settings.bodyTenantShare,
      timeoutMs: settings.bodyTimeoutMs,
    },
    identity,
    emit,
    metrics,
    log,
    routes: settings.routes,
    maxStreamEventChars: settings.maxStreamEventChars,
  });
  const capacity = new CapacityClock(identity, settings.windowMs, emit);
  let draining = false;
  const admin = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      void metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      });
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      res
        .writeHead(draining ? 503 : 200, { 'content-type': 'text/plain' })
        .end(draining ? 'draining' : 'ready');
    } else {
      res.writeHead(404).end();
    }
  });
  proxy.server.listen(settings.listen.port, settings.listen.host);
  admin.listen(settings.adminListen.port, settings.adminListen.host);
  try {
    await Promise.all([once(proxy.server, 'listening'), once(admin, 'listening')]);
  } catch (error) {
    // A port in use: release the other one and the sender, so that the process can exit.
    proxy.server.close();
    admin.close();
    await proxy.close();
    await pipe.close();
    throw error;
  }
  capacity.start();
  let stopping: Promise<void> | undefined;
  let cutNow: (reason: string) => void = () => undefined;
  const cut = new Promise<string>((resolve) => {
    cutNow = resolve;
  });
  return {
    proxy: proxy.server,
    admin,
    pipe,
    metrics,
    spoolNow() {
      capacity.stop();
      return pipe.spoolSync();
    },
    shutdown,
    cutOff(reason) {
      cutNow(reason);
      return shutdown();
    },
  };

  function shutdown(): Promise<void> {
    stopping ??= stop();
    return stopping;
  }

  async function stop(): Promise<void> {
    draining = true;
    const closed = new Promise<void>((resolve) =>
      proxy.server.close(() => {
        resolve();
      }),
    );
    proxy.server.closeIdleConnections();
    // The kubelet kills the pod at terminationGracePeriodSeconds: what still runs at the deadline
    // is cut off and metered, rather than killed unmetered with the process.
    const deadline = setTimeout(() => {
      cutNow(`the sidecar is shutting down: its drain deadline (${settings.drainMs / 1000} s) passed`);
    }, settings.drainMs);
    const reason = await Promise.race([proxy.idle().then(() => undefined), cut]);
    clearTimeout(deadline);
    if (reason !== undefined) {
      const n = proxy.cutOff(reason);
      log(`sidecar: ${reason}; ${n} request(s) in flight cut off, each metered as aborted`);
      // What else is open (a body still arriving, a request passed through) goes with them.
      proxy.server.closeAllConnections();
      await proxy.idle();
    }
    await proxy.close();
    budgets?.stop();
    capacity.stop();
    await pipe.close();
    proxy.server.closeAllConnections();
    await closed;
    await new Promise<void>((resolve) =>
      admin.close(() => {
        resolve();
      }),
    );
  }
}

/**
 * Installs the process's last word: on an uncaught exception or an unhandled rejection (Node turns
 * one into the other) the process must end, its state being unknown. Every event is in the journal
 * already; the last capacity window is closed and the events only in memory are written to one
 * spool file synchronously, before the exit, so the next process sends them once rather than
 * replaying the journal. Returns the uninstaller.
 */
export function spoolOnCrash(
  sidecar: Pick<RunningSidecar, 'spoolNow'>,
  log: (message: string) => void,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  const crash = (error: unknown, origin: string): void => {
    // The spool first: it is what must not be lost if anything after it fails.
    let spooled: string;
    try {
      spooled = `${sidecar.spoolNow()} event(s) in memory written to the spool`;
    } catch (spoolError) {
      spooled = `could not write the events in memory to the spool (${(spoolError as Error).message})`;
    }
    try {
      const what = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`sidecar: ${origin}: ${what}\nsidecar: ${spooled}; exiting`);
    } finally {
      exit(1);
    }
  };
  process.on('uncaughtException', crash);
  return () => {
    process.off('uncaughtException', crash);
  };
}

/**
 * The spend budgets' state reader, when SIDECAR_BUDGET_STATE_URL is set: with the pod's workload
 * identity (Storage Blob Data Reader on the state container) for an Azure Storage URL, anonymous
 * otherwise (a URL that carries a SAS, or Azurite). Each read lands in the sidecar's metrics.
 */
function budgetReader(
  settings: SidecarSettings,
  metrics: SidecarMetrics,
  log: (message: string) => void,
): BudgetStateReader | undefined {
  const b = settings.budgets;
  if (b === undefined) return undefined;
  const signed = b.url.searchParams.has('sig');
  let token: (() => Promise<string>) | undefined;
  if (b.url.protocol === 'https:' && !signed) {
    const credential = new DefaultAzureCredential();
    token = async () => {
      const got = await credential.getToken('https://storage.azure.com/.default');
      return got.token;
    };
  }
  return new BudgetStateReader({
    read: blobReader(b.url, token),
    refreshMs: b.refreshMs,
    staleMs: b.staleMs,
    failClosed: b.failClosed,
    log,
    observe: (outcome, ageSeconds) => {
      metrics.budgetStateReads.inc({ outcome });
      if (Number.isFinite(ageSeconds)) metrics.budgetStateAge.set(ageSeconds);
    },
  });
}
