import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { BlobBudgetState, TableBudgetSpend } from '../../src/adapters/azure-storage/table-budget-spend.js';
import { parseBudgets } from '../../src/domain/budgets/budgets.js';
import { parseEvent } from '../../src/domain/events.js';
import { loadPriceCard } from '../../src/domain/prices.js';
import { loadSidecarSettings } from '../../src/sidecar/settings.js';
import { startSidecar } from '../../src/sidecar/sidecar.js';
import { BudgetStateReader, blobReader } from '../../src/sidecar/spend-budgets.js';
import { publishBudgets } from '../../src/usecases/budgets/publish-budgets.js';
import { ingestBatch, type DeliveredMessage } from '../../src/usecases/ingest/ingest.js';
import { startTestProxy, type RunningProxy } from './proxy-harness.js';

const PRICES = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')) as unknown);
/** Each request is made to have held its GPU for 10 s (the fake engine answers in a millisecond). */
const HELD_MS = 10_000;
const BUDGETS = parseBudgets({
  budgets: [
    // 100 GPU-seconds: the tenth request of 10 s reaches it.
    { scope: { tenant: 'acme' }, period: 'day', limit: { gpuHours: 100 / 3600 }, policy: 'refuse' },
    { scope: { tenant: 'globex' }, period: 'day', limit: { gpuHours: 100 / 3600 }, policy: 'demote' },
    { scope: { tenant: 'tenant|x' }, period: 'day', limit: { gpuHours: 1 / 3600 }, policy: 'refuse' },
    { scope: { tenant: 'a"b\u00e9\u4e2d' }, period: 'day', limit: { gpuHours: 1 / 3600 }, policy: 'refuse' },
  ],
});

const vllm = new FakeVllm();
let upstream: URL;
let container: ContainerClient;
let stateUrl: URL;
let spend: TableBudgetSpend;

beforeAll(async () => {
  upstream = await vllm.start();
  const id = randomUUID().slice(0, 8);
  const blobs = BlobServiceClient.fromConnectionString(inject('azurite'));
  container = blobs.getContainerClient(`budget-state-${id}`);
  // Anonymous read stands in for the pods' Storage Blob Data Reader role.
  await container.create({ access: 'blob' });
  stateUrl = new URL(container.getBlockBlobClient('state.json').url);
  spend = new TableBudgetSpend(
    TableClient.fromConnectionString(inject('azurite'), `budgetspend${id}`, {
      allowInsecureConnection: true,
    }),
  );
});

afterAll(async () => {
  await vllm.stop();
});

interface Pod {
  readonly proxy: RunningProxy;
  readonly reader: BudgetStateReader;
}

async function pod(name: string, reader: BudgetStateReader): Promise<Pod> {
  const proxy = await startTestProxy(upstream, {
    identity: { pod: name, gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1, model: 'fake-model' },
    priorities: new Map([
      ['interactive', 0],
      ['batch', 10],
    ]),
    budgets: reader,
  });
  return { proxy, reader };
}

async function send(
  p: Pod,
  tenant: string,
  feature = 'chat',
): Promise<{ status: number; body: string; retryAfter: string | null }> {
  const res = await fetch(`${p.proxy.base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': tenant, 'x-feature': feature },
    body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
}

/** The fleet's pipeline between the pods and the state: their new events ingested (each made 10 s long), then published. */
function pipeline(pods: readonly Pod[], now: () => Date) {
  const taken = new Map<Pod, number>();
  let sequence = 0;
  const ledger = new MemoryLedger();
  return async (): Promise<void> => {
    const messages: DeliveredMessage[] = [];
    for (const p of pods) {
      const from = taken.get(p) ?? 0;
      for (const e of p.proxy.events.slice(from)) {
        const finishedAt = new Date(Date.parse(String(e.startedAt)) + HELD_MS).toISOString();
        const body = { ...e, finishedAt, firstTokenAt: null, queueMs: 0 };
        messages.push({
          body: JSON.stringify(body),
          partition: '0',
          sequenceNumber: sequence++,
          enqueuedTime: finishedAt,
        });
      }
      taken.set(p, p.proxy.events.length);
    }
    if (messages.length > 0)
      await ingestBatch(messages, { ledger, prices: PRICES, now, budgets: { file: BUDGETS, spend } });
    await publishBudgets({ budgets: BUDGETS, spend, sink: new BlobBudgetState(container), now });
  };
}

describe('two sidecars over one Azurite', () => {
  it('refuse and demote a tenant over its budget on both pods, leaving other tenants as they were', async () => {
    const reader = () => new BudgetStateReader({ read: blobReader(stateUrl), refreshMs: 60_000 });
    const pods = [await pod('vllm-0', reader()), await pod('vllm-1', reader())];
    const publish = pipeline(pods, () => new Date());
    await publish();
    await Promise.all(pods.map((p) => p.reader.refresh()));
    const served: Record<string, number> = { acme: 0, globex: 0, initech: 0 };
    const firstRefused: Record<string, number | undefined> = {};
    for (let round = 0; round < 14; round += 1) {
      const p = pods[round % 2] ?? pods[0];
      if (p === undefined) throw new Error('no pod');
      for (const tenant of ['acme', 'globex', 'initech']) {
        const r = await send(p, tenant);
        if (r.status === 200) served[tenant] = (served[tenant] ?? 0) + 1;
        else if (r.status === 429) firstRefused[tenant] ??= round;
      }
      // One state refresh per round on both pods: a request rate of one per tenant per interval.
      await publish();
      await Promise.all(pods.map((q) => q.reader.refresh()));
    }
    // The tenth request reaches the limit; the next round sees it on whichever pod serves it.
    expect(served.acme).toBe(10);
    expect(firstRefused.acme).toBe(10);
    expect(served.globex).toBe(14);
    expect(served.initech).toBe(14);
    expect(firstRefused.globex).toBeUndefined();
    // Both pods refuse acme now, with the body of contracts.md §14.
    for (const p of pods) {
      const r = await send(p, 'acme');
      expect(r.status).toBe(429);
      const body = JSON.parse(r.body) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({
        type: 'budget_exceeded',
        scope: { tenant: 'acme' },
        period: 'day',
        limitUsd: null,
        limitGpuHours: 100 / 3600,
      });
      const resetsAt = Date.parse(String(body.error.resetsAt));
      expect(new Date(resetsAt).toISOString().slice(11)).toBe('00:00:00.000Z');
      // Seconds to the period's end, as the pod's clock saw it a moment ago.
      expect(Math.abs(Number(r.retryAfter) - (resetsAt - Date.now()) / 1000)).toBeLessThan(3);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
      expect(Number(r.retryAfter)).toBeLessThanOrEqual(86_400);
      // Still one usage event, valid under the schema, saying it was refused.
      const last = p.proxy.events[p.proxy.events.length - 1] ?? {};
      const event = parseEvent(last);
      expect(event.ok).toBe(true);
      expect(last).toMatchObject({
        tenant: 'acme',
        status: 'error',
        httpStatus: 429,
        attributes: { budget: 'refused' },
      });
      // globex is demoted: served as batch, with batch's vLLM priority.
      const before = vllm.seen.length;
      expect((await send(p, 'globex')).status).toBe(200);
      expect(vllm.seen[before]?.body.priority).toBe(10);
      expect(p.proxy.events[p.proxy.events.length - 1]).toMatchObject({
        tenant: 'globex',
        requestClass: 'batch',
        status: 'ok',
        attributes: { budget: 'demoted' },
      });
      // A served answer says how many requests its pod worked on meanwhile, for ingest's estimate.
      const shared = (p.proxy.events[p.proxy.events.length - 1]?.attributes as Record<string, string>)
        .meanConcurrency;
      expect(shared).toMatch(/^\d+\.\d{2}$/);
      expect(Number(shared)).toBeGreaterThanOrEqual(1);
    }
    // A hostile name matches only itself: `tenant` + feature `x` is not tenant `tenant|x`.
    const hostileFirst = pods[0];
    if (hostileFirst === undefined) throw new Error('no pod');
    expect((await send(hostileFirst, 'tenant|x')).status).toBe(200);
    await publish();
    await hostileFirst.reader.refresh();
    expect((await send(hostileFirst, 'tenant|x')).status).toBe(429);
    expect((await send(hostileFirst, 'tenant', 'x')).status).toBe(200);
    expect((await send(hostileFirst, 'tenant', 'x|')).status).toBe(200);
    for (const p of pods) await p.proxy.stop();
  }, 60_000);

  it('hold the overshoot within refresh interval x request rate when the pods poll on their own', async () => {
    const refreshMs = 250;
    const hooliUrl = new URL(container.getBlockBlobClient('hooli.json').url);
    const reader = () => new BudgetStateReader({ read: blobReader(hooliUrl), refreshMs });
    const budgets = parseBudgets({
      budgets: [
        { scope: { tenant: 'hooli' }, period: 'day', limit: { gpuHours: 50 / 3600 }, policy: 'refuse' },
      ],
    });
    const pods = [await pod('vllm-2', reader()), await pod('vllm-3', reader())];
    const ledger = new MemoryLedger();
    let sequence = 0;
    const taken = [0, 0];
    const publishNow = async (): Promise<void> => {
      const messages: DeliveredMessage[] = [];
      pods.forEach((p, i) => {
        for (const e of p.proxy.events.slice(taken[i])) {
          const finishedAt = new Date(Date.parse(String(e.startedAt)) + HELD_MS).toISOString();
          messages.push({
            body: JSON.stringify({ ...e, finishedAt, firstTokenAt: null, queueMs: 0 }),
            partition: '1',
            sequenceNumber: sequence++,
            enqueuedTime: finishedAt,
          });
        }
        taken[i] = p.proxy.events.length;
      });
      const now = () => new Date();
      if (messages.length > 0)
        await ingestBatch(messages, { ledger, prices: PRICES, now, budgets: { file: budgets, spend } });
      await publishBudgets({ budgets, spend, sink: new BlobBudgetState(container, 'hooli.json'), now });
    };
    await publishNow();
    await Promise.all(pods.map((p) => p.reader.start()));
    // 5 requests spend the budget; published at once, so the overshoot is the pods' polling alone.
    for (let i = 0; i < 5; i += 1)
      expect((await send(pods[i % 2] ?? pods[0] ?? fail(), 'hooli')).status).toBe(200);
    await publishNow();
    const publishedAt = performance.now();
    const intervalMs = 20; // 50 requests a second across the two pods
    let overshoot = 0;
    let refusedOnBoth = false;
    const seen = [false, false];
    for (let i = 0; !refusedOnBoth && i < 500; i += 1) {
      const which = i % 2;
      const r = await send(pods[which] ?? pods[0] ?? fail(), 'hooli');
      if (r.status === 200) overshoot += 1;
      else seen[which] = true;
      refusedOnBoth = seen[0] === true && seen[1] === true;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    const tookMs = performance.now() - publishedAt;
    const bound = Math.ceil((refreshMs + 100) / intervalMs);
    expect(refusedOnBoth).toBe(true);
    expect(tookMs).toBeLessThan(refreshMs * 2 + 500);
    expect(overshoot).toBeLessThanOrEqual(bound);
    for (const p of pods) {
      p.reader.stop();
      await p.proxy.stop();
    }
  }, 60_000);
});

function fail(): never {
  throw new Error('no pod');
}

/** A loopback port nothing listens on: the state's host unreachable. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const acmeOver = (generatedAt: string, resetsAt: string): string =>
  JSON.stringify({
    version: 1,
    generatedAt,
    entries: [
      {
        scope: { tenant: 'acme' },
        period: 'day',
        periodName: resetsAt.slice(0, 10),
        policy: 'refuse',
        limitUsd: 1,
        limitGpuHours: null,
        spentUsd: 1.5,
        spentGpuHours: 0.4,
        fraction: 1.5,
        crossed: [1],
        over: true,
        resetsAt,
      },
    ],
  });

describe('the state as each pod holds it', () => {
  it('stops refusing at the period boundary by the pod clock, without a new document', async () => {
    const clock = { ms: Date.parse('2026-12-07T23:59:58Z') };
    const text = acmeOver('2026-12-07T23:59:57Z', '2026-12-08T00:00:00.000Z');
    const reader = new BudgetStateReader({ read: () => Promise.resolve(text), now: () => clock.ms });
    await reader.refresh();
    const p = await pod('vllm-4', reader);
    const refused = await send(p, 'acme');
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('2');
    clock.ms = Date.parse('2026-12-08T00:00:00Z');
    expect((await send(p, 'acme')).status).toBe(200);
    await p.proxy.stop();
  });

  it('keeps the last good state when a document does not parse, and says so once', async () => {
    const logs: string[] = [];
    const outcomes: string[] = [];
    let text = acmeOver(new Date().toISOString(), new Date(Date.now() + 3_600_000).toISOString());
    const reader = new BudgetStateReader({
      read: () => Promise.resolve(text),
      log: (m) => logs.push(m),
      observe: (o) => outcomes.push(o),
    });
    await reader.refresh();
    text = '{"version": 1, "entries": [';
    await reader.refresh();
    await reader.refresh();
    const p = await pod('vllm-5', reader);
    expect((await send(p, 'acme')).status).toBe(429);
    expect(outcomes).toEqual(['ok', 'unreadable', 'unreadable']);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(
      /^sidecar: budget state does not parse, the last good one is kept: budget state: not valid JSON/,
    );
    await p.proxy.stop();
  });

  it('fails open by default when the state is unreachable, and closed by setting', async () => {
    const url = new URL(`http://127.0.0.1:${await deadPort()}/budget-state/state.json`);
    const logs: string[] = [];
    const open = new BudgetStateReader({ read: blobReader(url, undefined, 500), log: (m) => logs.push(m) });
    const closed = new BudgetStateReader({ read: blobReader(url, undefined, 500), failClosed: true });
    await Promise.all([open.refresh(), closed.refresh()]);
    expect(logs[0]).toMatch(/^sidecar: budget state unreachable: /);
    expect(open.isStale()).toBe(true);
    const a = await pod('vllm-6', open);
    const b = await pod('vllm-7', closed);
    expect((await send(a, 'acme')).status).toBe(200);
    const refused = await send(b, 'acme');
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('5');
    expect(b.proxy.events[b.proxy.events.length - 1]).toMatchObject({
      httpStatus: 503,
      attributes: { budget: 'unavailable' },
    });
    const decisions = await b.proxy.metrics.budgetDecisions.get();
    expect(decisions.values.find((v) => v.labels.action === 'unavailable')?.value).toBe(1);
    await a.proxy.stop();
    await b.proxy.stop();
  });

  it('fails closed only for scopes a budget covered, once a state was read and then went stale', async () => {
    const clock = { ms: Date.parse('2026-12-07T10:00:00Z') };
    let reachable = true;
    const text = acmeOver('2026-12-07T10:00:00Z', '2026-12-07T23:59:00.000Z').replace(
      '"over":true',
      '"over":false',
    );
    const reader = new BudgetStateReader({
      read: () => (reachable ? Promise.resolve(text) : Promise.reject(new Error('connect ECONNREFUSED'))),
      now: () => clock.ms,
      failClosed: true,
      staleMs: 30_000,
    });
    await reader.refresh();
    expect(reader.gate('acme', 'chat').action).toBe('serve');
    reachable = false;
    clock.ms += 31_000;
    await reader.refresh();
    expect(reader.gate('acme', 'chat').action).toBe('unavailable');
    expect(reader.gate('initech', 'chat').action).toBe('serve');
  });
});

describe('the sidecar process settings', () => {
  const env = {
    POD_NAME: 'vllm-8',
    GPU_SKU: 'Standard_NC24ads_A100_v4',
    GPU_COUNT: '1',
    MODEL_NAME: 'fake-model',
  };

  it('reads the budget settings and names a bad one', () => {
    const s = loadSidecarSettings(
      { sink: 'file:/unused' },
      {
        ...env,
        SIDECAR_BUDGET_STATE_URL: 'https://acct.blob.core.windows.net/budget-state/state.json',
        SIDECAR_BUDGET_REFRESH_SECONDS: '2',
        SIDECAR_BUDGET_FAIL_CLOSED: 'true',
      },
    );
    expect(s.budgets).toMatchObject({ refreshMs: 2000, staleMs: 60_000, failClosed: true });
    expect(loadSidecarSettings({ sink: 'file:/unused' }, env).budgets).toBeUndefined();
    expect(() =>
      loadSidecarSettings(
        { sink: 'file:/unused' },
        { ...env, SIDECAR_BUDGET_STATE_URL: 'x', SIDECAR_BUDGET_FAIL_CLOSED: 'yes' },
      ),
    ).toThrow(
      /SIDECAR_BUDGET_STATE_URL: must be an http\(s\) URL; SIDECAR_BUDGET_FAIL_CLOSED: must be true or false/,
    );
  });

  it('enforces the state blob when started as the image starts it', async () => {
    const blob = container.getBlockBlobClient('process.json');
    const text = acmeOver(new Date().toISOString(), new Date(Date.now() + 3_600_000).toISOString());
    await blob.upload(text, Buffer.byteLength(text));
    const settings = loadSidecarSettings(
      {
        upstream: upstream.href,
        listen: '127.0.0.1:0',
        adminListen: '127.0.0.1:0',
        sink: 'file:/unused',
        spoolDir: mkdtempSync(join(tmpdir(), 'spool-')),
      },
      { ...env, SIDECAR_BUDGET_STATE_URL: blob.url },
    );
    const sidecar = await startSidecar(
      settings,
      { send: () => Promise.resolve(), close: () => Promise.resolve() },
      () => undefined,
      () => undefined,
    );
    try {
      const base = `http://127.0.0.1:${(sidecar.proxy.address() as AddressInfo).port}`;
      const ask = (tenant: string) =>
        fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-tenant': tenant },
          body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }),
        });
      expect((await ask('acme')).status).toBe(429);
      expect((await ask('initech')).status).toBe(200);
    } finally {
      await sidecar.shutdown();
    }
  });
});
