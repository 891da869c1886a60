/**
 * Per-request costs of a day with 1,000,000 requests: builds the stored file (sorted, gzip blocks,
 * index), writes it to a temporary folder, and looks up 1,000 random request ids through the
 * folder reader `chargeback explain` uses. Prints bytes per request, build time, index size, and
 * the time and bytes read per lookup. Run: npm run bench (or npx tsx bench/request-lookup.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderRequestSource, requestFilePaths } from '../src/adapters/files/request-folder.js';
import type { RequestCost } from '../src/domain/requests/request-cost.js';
import { buildRequestFile, findRequests } from '../src/usecases/requests/request-file.js';

const REQUESTS = Number(process.env.REQUESTS ?? 1_000_000);
const DATE = '2026-11-22';
const dayStart = Date.parse(`${DATE}T00:00:00Z`) * 1000;

let seed = 42;
// mulberry32: small, seeded, and good enough that 1M random 128-bit ids do not collide.
const random = (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};
const hex = (n: number): string =>
  Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;

const TENANTS = ['contoso', 'fabrikam', 'northwind', 'adventure-works', 'tailspin'];
const FEATURES = ['chat', 'search-answer', 'code-assist', 'summarize-docs', 'translate', 'report-digest'];
const PODS = Array.from({ length: 16 }, (_, i) => `vllm-llama-3-1-8b-instruct-7d9f8c6b5-${hex(5)}${i}`);

const costs: RequestCost[] = [];
const keys: { tenant: string; requestId: string }[] = [];
for (let i = 0; i < REQUESTS; i++) {
  const startedAt = dayStart + Math.floor(random() * 86_000_000_000);
  const prefill = Math.floor(random() * 400_000);
  const decode = Math.floor(random() * 8_000_000);
  const gpuMicros = Math.floor(random() * 4_000_000);
  const prefillPart = Math.floor(gpuMicros * 0.2);
  const decodePart = Math.floor(gpuMicros * 0.1);
  const requestId = `cmpl-${hex(32)}`;
  const tenant = pick(TENANTS);
  keys.push({ tenant, requestId });
  costs.push({
    requestId,
    eventId: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
    tenant,
    feature: pick(FEATURES),
    model: 'llama-3.1-8b-instruct',
    requestClass: random() < 0.8 ? 'interactive' : 'batch',
    pod: pick(PODS),
    gpuSku: 'Standard_NC24ads_A100_v4',
    gpuCount: 1,
    startedAt,
    firstTokenAt: startedAt + prefill,
    finishedAt: startedAt + prefill + decode,
    queueMs: Math.round(random() * 50_000) / 1000,
    promptTokens: Math.floor(random() * 4000),
    cachedPromptTokens: Math.floor(random() * 1000),
    completionTokens: Math.floor(random() * 1000),
    status: random() < 0.98 ? 'ok' : 'error',
    metered: true,
    gpuMicros,
    prefillGpuMicros: prefillPart,
    decodeGpuMicros: decodePart,
    fixedGpuMicros: gpuMicros - prefillPart - decodePart,
    idleGpuMicros: 0,
    nanos: Math.floor(gpuMicros * 1.0203),
    idleNanos: 0,
    meanConcurrency: 1 + random() * 30,
    maxConcurrency: 1 + Math.floor(random() * 60),
  });
}

let started = performance.now();
const file = await buildRequestFile(DATE, 1, costs);
const buildMs = performance.now() - started;
const dir = await mkdtemp(join(tmpdir(), 'request-lookup-'));
const paths = requestFilePaths(dir, DATE);
const indexText = JSON.stringify(file.index);
await writeFile(paths.data, file.data);
await writeFile(paths.index, indexText);

started = performance.now();
const source = await folderRequestSource(dir, DATE);
const openMs = performance.now() - started;
let read = 0;
const counted = {
  index: () => source.index(),
  range: (offset: number, length: number) => {
    read += length;
    return source.range(offset, length);
  },
};
const times: number[] = [];
for (let i = 0; i < 1000; i++) {
  const key = keys[Math.floor(random() * keys.length)] ?? { tenant: '', requestId: '' };
  const t = performance.now();
  const found = await findRequests(counted, key.tenant, key.requestId);
  times.push(performance.now() - t);
  if (found.length !== 1) throw new Error(`lookup of ${key.requestId} found ${found.length}`);
}
times.sort((a, b) => a - b);
const at = (q: number): string => (times[Math.floor(q * (times.length - 1))] ?? 0).toFixed(2);
console.log(
  `request-lookup: ${REQUESTS.toLocaleString('en-US')} requests -> ${(file.data.length / 1e6).toFixed(1)} MB ` +
    `(${(file.data.length / REQUESTS).toFixed(1)} bytes per request), index ${(indexText.length / 1024).toFixed(0)} KiB ` +
    `in ${file.index.blocks.length} blocks; built in ${(buildMs / 1000).toFixed(1)} s`,
);
console.log(
  `request-lookup: index read in ${openMs.toFixed(1)} ms; 1,000 lookups by id: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, ` +
    `${(read / 1000 / 1024).toFixed(1)} KiB read per lookup`,
);
await rm(dir, { recursive: true, force: true });
