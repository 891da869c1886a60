import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { BodyBudget } from '../../src/sidecar/budget.js';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import { createProxy } from '../../src/sidecar/proxy.js';
import type { ProxyDeps } from '../../src/sidecar/proxy-deps.js';
import { loadSidecarSettings } from '../../src/sidecar/settings.js';
import { openRaw, postHead, rawExchange } from './raw-http.js';

/** Request bodies that arrive slowly, or not at all, cannot take the body budget from other tenants. */

interface Running {
  readonly port: number;
  readonly events: Record<string, unknown>[];
  readonly metrics: SidecarMetrics;
  readonly bodyBytesHeld: () => number;
  stop(): Promise<void>;
}

const running: Running[] = [];
const sockets: Socket[] = [];

async function startProxy(upstream: URL, bodies?: ProxyDeps['bodies']): Promise<Running> {
  const events: Record<string, unknown>[] = [];
  const metrics = new SidecarMetrics();
  const proxy = createProxy({
    upstream,
    rules: {
      headers: { tenant: 'x-tenant', feature: 'x-feature', requestClass: 'x-request-class' },
      apiKeys: new Map(),
      missingTenant: 'reject',
      defaultClass: 'interactive',
    },
    priorities: new Map(),
    ...(bodies === undefined ? {} : { bodies }),
    identity: { pod: 'vllm-0', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1, model: 'fake-model' },
    emit: (e) => events.push(e),
    metrics,
  });
  proxy.server.listen(0, '127.0.0.1');
  await once(proxy.server, 'listening');
  const r: Running = {
    port: (proxy.server.address() as AddressInfo).port,
    events,
    metrics,
    bodyBytesHeld: proxy.bodyBytesHeld,
    async stop() {
      proxy.server.closeAllConnections();
      proxy.server.close();
      await proxy.close();
    },
  };
  running.push(r);
  return r;
}

const vllm = new FakeVllm();
let upstream: URL;

beforeAll(async () => {
  upstream = await vllm.start();
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const r of running) await r.stop();
  await vllm.stop();
});

/** Waits (on the event loop, not the clock) until `ready` holds. */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i += 1) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 1000 && !ready(); i += 1) await new Promise((r) => setTimeout(r, 10));
  if (!ready()) throw new Error('condition never held');
}

/**
 * A client that declares `declared` bytes, sends `first` of them, then one more byte every 50 ms
 * until the sidecar answers: the status it got (0 while none), and when the connection ended.
 */
function trickle(port: number, tenant: string, declared: number, first = 1) {
  const socket = openRaw(port, postHead('/v1/completions', declared, `X-Tenant: ${tenant}`));
  sockets.push(socket);
  const state = { status: 0, closed: false, text: '', socket };
  socket.write(Buffer.alloc(first, 0x20));
  const timer = setInterval(() => {
    if (state.status === 0 && !socket.destroyed) socket.write(' ');
  }, 50);
  socket.on('data', (d: Buffer) => {
    state.text += d.toString('utf8');
    state.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(state.text)?.[1] ?? 0);
  });
  // Closed by the sidecar while bytes may still be on their way: a reset is how it may end.
  socket.on('error', () => undefined);
  socket.on('close', () => {
    clearInterval(timer);
    state.closed = true;
  });
  return state;
}

const counted = async (r: Running, reason: string): Promise<number> => {
  const text = await r.metrics.registry.metrics();
  const line = new RegExp(`chargeback_sidecar_body_refusals_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
  return Number(line?.[1] ?? 0);
};

const request = (port: number, tenant: string, id: string, body = '{"prompt":"hi","max_tokens":2}') =>
  rawExchange(
    port,
    postHead('/v1/completions', body.length, `X-Request-Id: ${id}`, `X-Tenant: ${tenant}`),
    body,
  );

describe('request bodies that hang', () => {
  it('eight trickling connections declaring 16 MiB each hold only what they sent; another tenant is served', async () => {
    // The defaults: 16 MiB per body, 128 MiB in all. Declared lengths used to be reserved whole.
    const sidecar = await startProxy(upstream);
    const hostile = Array.from({ length: 8 }, () => trickle(sidecar.port, 'mallory', 16 * 1024 * 1024));
    await until(() => sidecar.bodyBytesHeld() >= 8);
    expect(sidecar.bodyBytesHeld()).toBeLessThan(64 * 1024);
    const served = await request(sidecar.port, 'contoso', 'well-behaved');
    expect(served.status).toBe(200);
    expect(sidecar.events.find((e) => e.requestId === 'well-behaved')).toMatchObject({
      tenant: 'contoso',
      status: 'ok',
    });
    // The hostile ones are still waiting: none was answered, and mallory may still send a small body.
    expect(hostile.map((h) => h.status)).toEqual(Array.from({ length: 8 }, () => 0));
    expect((await request(sidecar.port, 'mallory', 'mallory-small')).status).toBe(200);
  });

  it('a body that does not arrive within the deadline gets 408, its connection is closed and counted', async () => {
    const sidecar = await startProxy(upstream, { max: 64 * 1024, budget: 256 * 1024, timeoutMs: 300 });
    const slow = Array.from({ length: 3 }, () => trickle(sidecar.port, 'mallory', 60 * 1024, 1024));
    await until(() => slow.every((s) => s.closed));
    for (const s of slow) {
      expect(s.status).toBe(408);
      expect(s.text).toContain('request body not received within 0.3 s');
      expect(s.text.toLowerCase()).toContain('connection: close');
    }
    expect(await counted(sidecar, 'timeout')).toBe(3);
    await until(() => sidecar.bodyBytesHeld() === 0);
    expect(sidecar.events).toEqual([]); // never reached vLLM: no usage event
  });

  it('a body that arrives whole within the deadline is served however slowly its bytes came', async () => {
    const sidecar = await startProxy(upstream, { max: 64 * 1024, budget: 256 * 1024, timeoutMs: 5_000 });
    const body = '{"prompt":"slow but steady","max_tokens":3}';
    const socket = openRaw(
      sidecar.port,
      postHead('/v1/completions', body.length, 'X-Request-Id: steady', 'X-Tenant: contoso'),
    );
    sockets.push(socket);
    for (const part of [body.slice(0, 10), body.slice(10, 20), body.slice(20)]) {
      socket.write(part);
      await new Promise((r) => setTimeout(r, 30));
    }
    await until(() => sidecar.events.some((e) => e.requestId === 'steady'));
    expect(sidecar.events.find((e) => e.requestId === 'steady')).toMatchObject({
      status: 'ok',
      completionTokens: 3,
    });
    await until(() => sidecar.bodyBytesHeld() === 0);
  });
});

describe('one tenant holds at most its share of the body budget', () => {
  it('past its share a tenant gets 429, while another tenant is served, and everything is given back', async () => {
    // 256 KiB in all, a quarter (64 KiB, one body of the maximum) per tenant.
    const sidecar = await startProxy(upstream, {
      max: 64 * 1024,
      budget: 256 * 1024,
      tenantShare: 0.25,
      timeoutMs: 60_000,
    });
    const first = trickle(sidecar.port, 'mallory', 64 * 1024, 60 * 1024);
    await until(() => sidecar.bodyBytesHeld() >= 60 * 1024);
    const second = trickle(sidecar.port, 'mallory', 64 * 1024, 8 * 1024);
    await until(() => second.status !== 0);
    expect(second.status).toBe(429);
    expect(second.text.toLowerCase()).toContain('retry-after: 1');
    expect(await counted(sidecar, 'tenant-share')).toBe(1);
    const body = `{"max_tokens":1,"prompt":"${'x'.repeat(50 * 1024)}"}`;
    expect((await request(sidecar.port, 'contoso', 'other-tenant', body)).status).toBe(200);
    expect(first.status).toBe(0);
    // The first upload ends without a response (the client gave up): its bytes come back.
    first.socket.destroy();
    await until(() => sidecar.bodyBytesHeld() === 0);
  });

  it('the whole budget still bounds all tenants together: 503 with Retry-After', async () => {
    const sidecar = await startProxy(upstream, { max: 64 * 1024, budget: 128 * 1024, tenantShare: 0.5 });
    const a = trickle(sidecar.port, 'a', 64 * 1024, 60 * 1024);
    const b = trickle(sidecar.port, 'b', 64 * 1024, 60 * 1024);
    await until(() => sidecar.bodyBytesHeld() >= 120 * 1024);
    const c = trickle(sidecar.port, 'c', 64 * 1024, 16 * 1024);
    await until(() => c.status !== 0);
    expect(c.status).toBe(503);
    expect(await counted(sidecar, 'budget')).toBe(1);
    expect([a.status, b.status]).toEqual([0, 0]);
    a.socket.destroy();
    b.socket.destroy();
    await until(() => sidecar.bodyBytesHeld() === 0);
  });

  it('a declared length over the per-body limit is still refused at once with 413', async () => {
    const sidecar = await startProxy(upstream, { max: 64 * 1024, budget: 256 * 1024 });
    const big = trickle(sidecar.port, 'contoso', 65 * 1024);
    await until(() => big.status !== 0);
    expect(big.status).toBe(413);
    expect(await counted(sidecar, 'too-large')).toBe(1);
    expect(sidecar.bodyBytesHeld()).toBe(0);
  });
});

describe('BodyBudget accounting', () => {
  it('a tenant may always hold one body of the maximum size, whatever the fraction', () => {
    expect(new BodyBudget(100, { maxBody: 40, tenantShare: 0.1 }).tenantShare).toBe(40);
    expect(new BodyBudget(100, { maxBody: 10, tenantShare: 0.25 }).tenantShare).toBe(25);
  });

  it('gives back no more than a tenant holds, so the total never goes negative', () => {
    const budget = new BodyBudget(100, { maxBody: 50, tenantShare: 0.5 });
    expect(budget.take('a', 30)).toBe(true);
    expect(budget.take('a', 30)).toBe('tenant-share');
    expect(budget.take('b', 50)).toBe(true);
    expect(budget.take('c', 30)).toBe('budget');
    budget.give('a', 1000);
    budget.give('zzz', 5);
    expect([budget.inUse, budget.heldBy('a'), budget.heldBy('b')]).toEqual([50, 0, 50]);
    budget.give('b', 50);
    expect(budget.inUse).toBe(0);
  });
});

describe('the body settings', () => {
  const POD = { POD_NAME: 'p', GPU_SKU: 'Standard_NC24ads_A100_v4', GPU_COUNT: '1', MODEL_NAME: 'm' };

  it('default to a quarter of the budget per tenant and 30 s for a body to arrive', () => {
    const s = loadSidecarSettings({ sink: 'file:/x' }, POD);
    expect([s.bodyTenantShare, s.bodyTimeoutMs]).toEqual([0.25, 30_000]);
  });

  it.each([
    ['SIDECAR_BODY_TENANT_SHARE', '0'],
    ['SIDECAR_BODY_TENANT_SHARE', '1.5'],
    ['SIDECAR_BODY_TIMEOUT_SECONDS', '0'],
    ['SIDECAR_BODY_TIMEOUT_SECONDS', 'soon'],
  ])('refuse %s=%s naming it', (name, value) => {
    expect(() => loadSidecarSettings({ sink: 'file:/x' }, { ...POD, [name]: value })).toThrow(name);
  });
});
