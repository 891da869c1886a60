import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import { createProxy } from '../../src/sidecar/proxy.js';
import type { ProxyDeps } from '../../src/sidecar/proxy-deps.js';

/** A metering proxy on loopback, as the sidecar builds it, with what it emitted and logged. */
export interface RunningProxy {
  readonly port: number;
  readonly base: string;
  readonly events: Record<string, unknown>[];
  readonly logs: string[];
  readonly metrics: SidecarMetrics;
  readonly bodyBytesHeld: () => number;
  readonly cutOff: (reason: string) => number;
  readonly idle: () => Promise<void>;
  stop(): Promise<void>;
}

/** Starts a proxy in front of `upstream`: tenant from x-tenant, class interactive (priority 0) by default. */
export async function startTestProxy(upstream: URL, more: Partial<ProxyDeps> = {}): Promise<RunningProxy> {
  const events: Record<string, unknown>[] = [];
  const logs: string[] = [];
  const metrics = more.metrics ?? new SidecarMetrics();
  const proxy = createProxy({
    upstream,
    rules: {
      headers: { tenant: 'x-tenant', feature: 'x-feature', requestClass: 'x-request-class' },
      apiKeys: new Map(),
      missingTenant: 'reject',
      defaultClass: 'interactive',
    },
    priorities: new Map([['interactive', 0]]),
    identity: { pod: 'vllm-0', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1, model: 'fake-model' },
    emit: (e) => events.push(e),
    log: (m) => logs.push(m),
    ...more,
    metrics,
  });
  proxy.server.listen(0, '127.0.0.1');
  await once(proxy.server, 'listening');
  const port = (proxy.server.address() as AddressInfo).port;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    events,
    logs,
    metrics,
    bodyBytesHeld: proxy.bodyBytesHeld,
    cutOff: proxy.cutOff,
    idle: proxy.idle,
    async stop() {
      proxy.server.closeAllConnections();
      proxy.server.close();
      await proxy.close();
    },
  };
}
