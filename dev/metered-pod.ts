/**
 * A usage sidecar (the real metering proxy, src/sidecar/proxy.ts) in front of a stand-in model on
 * loopback, for `npm start`: what the harness and the workload replay send goes through it, and the
 * usage events it makes, and its pod's capacity windows from start to stop, are what reaches
 * `ingestUsage`. Its clock is the demo's, so the events fall inside the simulated day. Given a pod
 * of the simulated fleet, its windows overlap the fleet's own for that pod, and the day's
 * accounting takes the union of a pod's windows, so the pod's held time is not counted twice.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { CapacityClock } from '../src/sidecar/capacity.js';
import { SidecarMetrics } from '../src/sidecar/metrics.js';
import type { PodIdentity, ProxyDeps } from '../src/sidecar/proxy-deps.js';
import { createProxy } from '../src/sidecar/proxy.js';

export interface MeteredPodOptions {
  readonly upstream: URL;
  readonly identity: PodIdentity;
  /** The demo's clock, in epoch milliseconds. */
  readonly now: () => number;
}

export interface MeteredPod {
  /** The sidecar's URL: the endpoint to send requests to. */
  readonly url: URL;
  /**
   * Stops the sidecar (its last capacity window closed at the clock's now, one window a minute)
   * and returns every event it made, in order.
   */
  stop(): Promise<Record<string, unknown>[]>;
}

const MINUTE_MS = 60_000;

/** The local run's sidecars: the default attribution headers, a tenant required, interactive by default. */
export const SIDECAR_RULES: ProxyDeps['rules'] = {
  headers: { tenant: 'x-tenant', feature: 'x-feature', requestClass: 'x-request-class' },
  apiKeys: new Map(),
  missingTenant: 'reject',
  defaultClass: 'interactive',
};

/** vLLM priorities of the two request classes (lower first). */
export const SIDECAR_PRIORITIES: ProxyDeps['priorities'] = new Map([
  ['interactive', 0],
  ['batch', 10],
]);

export async function startMeteredPod(options: MeteredPodOptions): Promise<MeteredPod> {
  const events: Record<string, unknown>[] = [];
  const emit = (event: Record<string, unknown>): void => {
    events.push(event);
  };
  const started = options.now();
  const capacity = new CapacityClock(options.identity, MINUTE_MS, emit, options.now);
  const proxy = createProxy({
    upstream: options.upstream,
    rules: SIDECAR_RULES,
    priorities: SIDECAR_PRIORITIES,
    identity: options.identity,
    emit,
    metrics: new SidecarMetrics(),
    now: options.now,
  });
  proxy.server.listen(0, '127.0.0.1');
  await once(proxy.server, 'listening');
  const port = (proxy.server.address() as AddressInfo).port;
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    stop: async () => {
      await proxy.idle();
      proxy.server.closeAllConnections();
      await new Promise<void>((resolve) => {
        proxy.server.close(() => {
          resolve();
        });
      });
      await proxy.close();
      // The demo's clock jumps between steps: the held time is cut into the minutes the sidecar's
      // timer would have closed, the last one shorter, as at a pod's shutdown.
      const end = options.now();
      for (let at = started + MINUTE_MS; at < end; at += MINUTE_MS) capacity.close(at);
      capacity.stop();
      return events;
    },
  };
}
