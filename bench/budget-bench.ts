/**
 * Spend budgets in the sidecar: the latency a request gains when the sidecar enforces budgets
 * (a state of 1,000 budgets, none covering the request, against no budgets at all; goal: no
 * measurable change at p50), the overshoot when a tenant's budget is crossed while it sends at a
 * fixed rate across two pods (bound: refresh interval x rate), and the Storage reads per minute per
 * pod. Everything runs in this process on loopback: the fake vLLM, the proxies, and a loopback
 * server standing in for the state blob. Run: `npx tsx bench/budget-bench.ts`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { FakeVllm } from '../dev/fake-vllm.js';
import type { BudgetStateEntry } from '../src/domain/budgets/state.js';
import { BudgetStateReader, blobReader } from '../src/sidecar/spend-budgets.js';
import { startTestProxy, type RunningProxy } from '../test/sidecar/proxy-harness.js';

const body = JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] });
const resetsAt = new Date(Date.now() + 3_600_000).toISOString();

function entry(tenant: string, over: boolean): BudgetStateEntry {
  return {
    scope: { tenant },
    period: 'day',
    periodName: resetsAt.slice(0, 10),
    policy: 'refuse',
    limitUsd: 10,
    limitGpuHours: null,
    spentUsd: over ? 11 : 1,
    spentGpuHours: 0,
    fraction: over ? 1.1 : 0.1,
    crossed: over ? [1] : [],
    over,
    resetsAt,
  };
}

/** A loopback stand-in for the state blob: serves `doc()`, counts the reads. */
async function stateServer(doc: () => string): Promise<{ url: URL; reads: () => number; server: Server }> {
  let reads = 0;
  const server = createServer((_req, res) => {
    reads += 1;
    const text = doc();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: new URL(`http://127.0.0.1:${port}/budget-state/state.json`), reads: () => reads, server };
}

const stateDoc = (entries: BudgetStateEntry[]): string =>
  JSON.stringify({ version: 1, generatedAt: new Date().toISOString(), entries });

async function timed(pool: Pool, tenant: string): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const res = await pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': tenant, 'x-feature': 'chat' },
    body,
  });
  await res.body.text();
  return { ms: performance.now() - t0, status: res.statusCode };
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function latency(vllmUrl: URL): Promise<void> {
  const many = Array.from({ length: 1000 }, (_, i) => entry(`tenant-${i}`, i % 2 === 0));
  const state = await stateServer(() => stateDoc(many));
  const reader = new BudgetStateReader({ read: blobReader(state.url), refreshMs: 5_000 });
  await reader.start();
  const on = await startTestProxy(vllmUrl, { budgets: reader });
  const off = await startTestProxy(vllmUrl);
  const pools = [new Pool(on.base, { connections: 1 }), new Pool(off.base, { connections: 1 })];
  const samples: number[][] = [[], []];
  const blocks = Number(process.env.BUDGET_BENCH_BLOCKS ?? 40);
  for (let warm = 0; warm < 300; warm += 1) for (const p of pools) await timed(p, 'acme');
  for (let b = 0; b < blocks; b += 1)
    for (const [i, p] of pools.entries())
      for (let n = 0; n < 100; n += 1) samples[i]?.push((await timed(p, 'acme')).ms);
  const [a = [], z = []] = samples;
  console.log(`latency, ${a.length} sequential non-streamed requests each, interleaved in blocks of 100:`);
  console.log(
    `  budgets on (1,000 budgets in the state): p50 ${quantile(a, 0.5).toFixed(3)} ms, p99 ${quantile(a, 0.99).toFixed(3)} ms`,
  );
  console.log(
    `  budgets off:                             p50 ${quantile(z, 0.5).toFixed(3)} ms, p99 ${quantile(z, 0.99).toFixed(3)} ms`,
  );
  const t0 = performance.now();
  for (let i = 0; i < 100_000; i += 1) reader.gate('acme', 'chat');
  console.log(
    `  one decision over 1,000 budgets: ${(((performance.now() - t0) / 100_000) * 1000).toFixed(2)} µs`,
  );
  reader.stop();
  for (const p of pools) await p.close();
  await stopAll([on, off]);
  state.server.close();
}

async function overshoot(vllmUrl: URL, refreshMs: number, ratePerSecond: number): Promise<void> {
  let over = false;
  const state = await stateServer(() => stateDoc([entry('acme', over)]));
  const readers = [0, 1].map(() => new BudgetStateReader({ read: blobReader(state.url), refreshMs }));
  // The two pods' polls are out of phase, as pods started at different times are.
  await readers[0]?.start();
  await new Promise((resolve) => setTimeout(resolve, refreshMs / 2));
  await readers[1]?.start();
  const pods = await Promise.all(readers.map((r) => startTestProxy(vllmUrl, { budgets: r })));
  const pools = pods.map((p) => new Pool(p.base, { connections: 8 }));
  const readsBefore = state.reads();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, refreshMs * 0.3));
  over = true; // the publisher writes the crossing now
  const crossedAt = performance.now();
  let served = 0;
  const refusedOn = [false, false];
  const pending: Promise<void>[] = [];
  const gap = 1000 / ratePerSecond;
  for (let i = 0; !(refusedOn[0] && refusedOn[1]) && i < ratePerSecond * (refreshMs / 1000) * 4; i += 1) {
    const which = i % 2;
    const pool = pools[which];
    if (pool === undefined) break;
    pending.push(
      timed(pool, 'acme').then((r) => {
        if (r.status === 200) served += 1;
        else refusedOn[which] = true;
      }),
    );
    const next = crossedAt + (i + 1) * gap;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - crossedAt) / 1000;
  const minutes = (performance.now() - started) / 60_000;
  console.log(
    `overshoot at ${ratePerSecond} requests/s across 2 pods, refresh ${refreshMs / 1000} s: ${served} requests served after the crossing (bound ${Math.ceil((ratePerSecond * refreshMs) / 1000)}), both pods refusing after ${elapsed.toFixed(2)} s; state reads ${((state.reads() - readsBefore) / 2 / minutes || 0).toFixed(1)} per minute per pod (expected ${(60_000 / refreshMs).toFixed(0)})`,
  );
  for (const r of readers) r.stop();
  for (const p of pools) await p.close();
  await stopAll(pods);
  state.server.close();
}

async function stopAll(proxies: RunningProxy[]): Promise<void> {
  for (const p of proxies) await p.stop();
}

const vllm = new FakeVllm();
const url = await vllm.start();
await latency(url);
await overshoot(url, 1_000, 100);
await overshoot(url, 5_000, 100);
await vllm.stop();
