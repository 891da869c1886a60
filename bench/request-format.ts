/**
 * Parquet or gzipped NDJSON for a day's per-request costs. Builds the same synthetic day as
 * bench/request-lookup.ts (same generator and seed) in today's format (sorted lines in gzip blocks
 * of 256, JSON index) and as Parquet files sorted the same way, with row groups of several sizes
 * (min/max statistics per row group in the footer) and one with page indexes. For each: build
 * time, size, what a lookup must read first (index or footer) and the time to read and parse it,
 * then 1,000 lookups by tenant and request id with it in hand (time, bytes and range reads of a
 * local file), and the bytes and time of a scan that reads only `feature` and `costUsd`. Prints one
 * Markdown table. The generator is a copy of bench/request-lookup.ts's, which keeps it inline.
 * Run: node --import tsx bench/request-format.ts (REQUESTS=300000 for a shorter run, LOOKUPS=50 for fewer lookups).
 */
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parquetMetadata, parquetReadObjects, type FileMetaData, type SchemaElement } from 'hyparquet';
import { ByteWriter, parquetWrite, type ColumnSource } from 'hyparquet-writer';
import { folderRequestSource, requestFilePaths } from '../src/adapters/files/request-folder.js';
import type { RequestCost } from '../src/domain/requests/request-cost.js';
import { inFileOrder } from '../src/domain/requests/request-line.js';
import type { RequestSource } from '../src/ports/request-store.js';
import { buildRequestFile, findRequests, scanRequests } from '../src/usecases/requests/request-file.js';

const REQUESTS = Number(process.env.REQUESTS ?? 1_000_000);
const LOOKUPS = Number(process.env.LOOKUPS ?? 1000);
const DATE = '2026-11-22';
const dayStart = Date.parse(`${DATE}T00:00:00Z`) * 1000;

// The generator of bench/request-lookup.ts, call for call, so both measure the same day.
let seed = 42;
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
for (let i = 0; i < REQUESTS; i++) {
  const startedAt = dayStart + Math.floor(random() * 86_000_000_000);
  const prefill = Math.floor(random() * 400_000);
  const decode = Math.floor(random() * 8_000_000);
  const gpuMicros = Math.floor(random() * 4_000_000);
  const prefillPart = Math.floor(gpuMicros * 0.2);
  const decodePart = Math.floor(gpuMicros * 0.1);
  const requestId = `cmpl-${hex(32)}`;
  const tenant = pick(TENANTS);
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
const keys = Array.from({ length: LOOKUPS }, () => costs[Math.floor(random() * costs.length)] as RequestCost);

// --- Parquet: the columns of request-line.ts, typed; money and GPU-time as DECIMAL over INT64 (the
// nano-dollar and GPU-microsecond integers, exact, shown as USD and seconds by data tools).

type Field = { name: string; element: Omit<SchemaElement, 'name'>; value: (c: RequestCost) => unknown };
const text = { type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' } as const;
const int32 = { type: 'INT32', repetition_type: 'REQUIRED' } as const;
const double = { type: 'DOUBLE', repetition_type: 'REQUIRED' } as const;
const instant = (repetition_type: 'REQUIRED' | 'OPTIONAL') =>
  ({
    type: 'INT64',
    repetition_type,
    converted_type: 'TIMESTAMP_MICROS',
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
  }) as const;
const decimal = (scale: number) =>
  ({
    type: 'INT64',
    repetition_type: 'REQUIRED',
    converted_type: 'DECIMAL',
    precision: 18,
    scale,
    logical_type: { type: 'DECIMAL', precision: 18, scale },
  }) as const;
const micros = (n: number) => BigInt(n);

const FIELDS: Field[] = [
  { name: 'requestId', element: text, value: (c) => c.requestId },
  { name: 'eventId', element: text, value: (c) => c.eventId },
  { name: 'tenant', element: text, value: (c) => c.tenant },
  { name: 'feature', element: text, value: (c) => c.feature },
  { name: 'model', element: text, value: (c) => c.model },
  { name: 'requestClass', element: text, value: (c) => c.requestClass },
  { name: 'pod', element: text, value: (c) => c.pod },
  { name: 'gpuSku', element: text, value: (c) => c.gpuSku },
  { name: 'gpuCount', element: int32, value: (c) => c.gpuCount },
  { name: 'startedAt', element: instant('REQUIRED'), value: (c) => c.startedAt },
  { name: 'firstTokenAt', element: instant('OPTIONAL'), value: (c) => c.firstTokenAt },
  { name: 'finishedAt', element: instant('REQUIRED'), value: (c) => c.finishedAt },
  { name: 'queueMs', element: double, value: (c) => c.queueMs },
  { name: 'promptTokens', element: int32, value: (c) => c.promptTokens },
  { name: 'cachedPromptTokens', element: int32, value: (c) => c.cachedPromptTokens },
  { name: 'completionTokens', element: int32, value: (c) => c.completionTokens },
  { name: 'status', element: text, value: (c) => c.status },
  { name: 'metered', element: { type: 'BOOLEAN', repetition_type: 'REQUIRED' }, value: (c) => c.metered },
  { name: 'gpuSeconds', element: decimal(6), value: (c) => micros(c.gpuMicros) },
  { name: 'prefillGpuSeconds', element: decimal(6), value: (c) => micros(c.prefillGpuMicros) },
  { name: 'decodeGpuSeconds', element: decimal(6), value: (c) => micros(c.decodeGpuMicros) },
  { name: 'fixedGpuSeconds', element: decimal(6), value: (c) => micros(c.fixedGpuMicros) },
  { name: 'idleGpuSeconds', element: decimal(6), value: (c) => micros(c.idleGpuMicros) },
  { name: 'costUsd', element: decimal(9), value: (c) => micros(c.nanos) },
  { name: 'idleCostUsd', element: decimal(9), value: (c) => micros(c.idleNanos) },
  // As the line writes it: 3 decimals.
  { name: 'meanConcurrency', element: double, value: (c) => Math.round(c.meanConcurrency * 1000) / 1000 },
  { name: 'maxConcurrency', element: int32, value: (c) => c.maxConcurrency },
];

interface Layout {
  readonly name: string;
  readonly rowGroup: number;
  /** Target uncompressed page size in bytes, and whether each column chunk has a page index. */
  readonly pageBytes?: number;
}

/**
 * Row group sizes that never span two tenants: min/max statistics are per column, so a group
 * holding the end of one tenant and the start of the next has a requestId range of nearly
 * everything, and every lookup of either tenant would read it too.
 */
function groupSizes(sorted: readonly RequestCost[], rows: number): number[] {
  const sizes: number[] = [];
  let start = 0;
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && i - start < rows && sorted[i]?.tenant === sorted[start]?.tenant) continue;
    sizes.push(i - start);
    start = i;
  }
  return sizes;
}

async function buildParquet(layout: Layout): Promise<Uint8Array> {
  const sorted = [...costs].sort(inFileOrder);
  const columnData: ColumnSource[] = FIELDS.map((f) => ({
    name: f.name,
    data: sorted.map(f.value) as ColumnSource['data'],
    columnIndex: layout.pageBytes !== undefined,
  }));
  const writer = new ByteWriter();
  await parquetWrite({
    writer,
    columnData,
    schema: [
      { name: 'root', num_children: FIELDS.length },
      ...FIELDS.map((f) => ({ name: f.name, ...f.element })),
    ],
    // gzip level 6, as the NDJSON blocks: zstd would do better, but node:zlib has none on Node 20.
    codec: 'GZIP',
    compressors: { GZIP: (input) => gzipSync(input, { level: 6 }) },
    rowGroupSize: groupSizes(sorted, layout.rowGroup),
    ...(layout.pageBytes === undefined ? {} : { pageSize: layout.pageBytes }),
  });
  return writer.getBytes();
}

const unzip = { GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)) };

/** A local file read in byte ranges, counting what it reads. */
async function countingFile(path: string) {
  const handle = await open(path, 'r');
  const byteLength = (await handle.stat()).size;
  const counter = { bytes: 0, reads: 0 };
  const read = async (start: number, end: number): Promise<ArrayBuffer> => {
    const buffer = new Uint8Array(end - start);
    await handle.read(buffer, 0, buffer.length, start);
    counter.bytes += buffer.length;
    counter.reads++;
    return buffer.buffer;
  };
  return {
    counter,
    close: () => handle.close(),
    file: { byteLength, slice: (s: number, e = byteLength) => read(s, e) },
  };
}

type Opened = Awaited<ReturnType<typeof countingFile>>;

/** The footer as a reader gets it: the last 8 bytes (its length, `PAR1`), then the footer itself. */
async function footer(opened: Opened): Promise<{ metadata: FileMetaData; bytes: number }> {
  const { byteLength, slice } = opened.file;
  const tail = new DataView(await slice(byteLength - 8));
  const length = tail.getUint32(0, true);
  const bytes = await slice(byteLength - 8 - length);
  return { metadata: parquetMetadata(bytes), bytes: length + 8 };
}

interface Row {
  format: string;
  buildMs: number;
  bytes: number;
  /** What a lookup reads first (the index, the footer), and the time to read and parse it. */
  firstBytes: number;
  openMs: number;
  /** Lookups with the index or footer in hand: milliseconds each, bytes read in all. */
  times: number[];
  lookupBytes: number;
  /** Range reads of the data in all (each a round trip on blob storage). */
  lookupReads: number;
  scanBytes: number;
  scanMs: number;
}

/** The median of `n` timings of `work`. */
async function medianMs(n: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await work();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)] ?? 0;
}

async function parquetRow(dir: string, layout: Layout): Promise<Row> {
  let started = performance.now();
  const data = await buildParquet(layout);
  const buildMs = performance.now() - started;
  const path = join(dir, `requests-${layout.name}.parquet`);
  await writeFile(path, data);
  const opened = await countingFile(path);
  const { metadata, bytes: firstBytes } = await footer(opened);
  const openMs = await medianMs(5, () => footer(opened));
  opened.counter.bytes = 0;
  opened.counter.reads = 0;
  const times: number[] = [];
  for (const key of keys) {
    const t = performance.now();
    // As a generic reader does it: the row groups (with a page index, the pages) whose min/max
    // statistics can hold both values, and of those only the rows that have them.
    const rows = await parquetReadObjects({
      file: opened.file,
      metadata,
      filter: { tenant: { $eq: key.tenant }, requestId: { $eq: key.requestId } },
      compressors: unzip,
      usePageIndex: layout.pageBytes !== undefined,
    });
    times.push(performance.now() - t);
    const row = rows[0] as { eventId?: string; costUsd?: number } | undefined;
    // costUsd comes back as a float (the reader's choice for DECIMAL); the file holds the integer.
    if (
      rows.length !== 1 ||
      row?.eventId !== key.eventId ||
      Math.round((row.costUsd ?? 0) * 1e9) !== key.nanos
    )
      throw new Error(`${layout.name}: lookup of ${key.requestId} found ${rows.length}`);
  }
  const lookupBytes = opened.counter.bytes;
  const lookupReads = opened.counter.reads;
  opened.counter.bytes = 0;
  started = performance.now();
  const scanned = await parquetReadObjects({
    file: opened.file,
    metadata: (await footer(opened)).metadata,
    columns: ['feature', 'costUsd'],
    compressors: unzip,
  });
  const byFeature = new Map<string, number>();
  for (const r of scanned as { feature: string; costUsd: number }[])
    byFeature.set(r.feature, (byFeature.get(r.feature) ?? 0) + r.costUsd);
  const scanMs = performance.now() - started;
  if (scanned.length !== REQUESTS) throw new Error(`${layout.name}: scan read ${scanned.length} rows`);
  const scanBytes = opened.counter.bytes;
  await opened.close();
  const format =
    `Parquet, row groups of ${layout.rowGroup.toLocaleString('en-US')}` +
    (layout.pageBytes === undefined ? '' : `, pages of ${layout.pageBytes / 1024} KiB, page index`);
  return {
    format,
    buildMs,
    bytes: data.length,
    firstBytes,
    openMs,
    times,
    lookupBytes,
    lookupReads,
    scanBytes,
    scanMs,
  };
}

async function ndjsonRow(dir: string): Promise<Row> {
  let started = performance.now();
  const file = await buildRequestFile(DATE, 1, costs);
  const buildMs = performance.now() - started;
  const paths = requestFilePaths(dir, DATE);
  await writeFile(paths.data, file.data);
  await writeFile(paths.index, JSON.stringify(file.index));
  const indexBytes = (await stat(paths.index)).size;
  const openMs = await medianMs(5, () => folderRequestSource(dir, DATE));
  let read = 0;
  let reads = 0;
  const counted = (source: RequestSource): RequestSource => ({
    index: () => source.index(),
    range: (offset, length) => {
      read += length;
      reads++;
      return source.range(offset, length);
    },
  });
  const source = counted(await folderRequestSource(dir, DATE));
  const times: number[] = [];
  for (const key of keys) {
    const t = performance.now();
    const found = await findRequests(source, key.tenant, key.requestId);
    times.push(performance.now() - t);
    if (found.length !== 1 || found[0]?.eventId !== key.eventId)
      throw new Error(`ndjson: lookup of ${key.requestId} found ${found.length}`);
  }
  const lookupBytes = read;
  const lookupReads = reads;
  read = 0;
  started = performance.now();
  const byFeature = new Map<string, number>();
  for await (const c of scanRequests(counted(await folderRequestSource(dir, DATE))))
    byFeature.set(c.feature, (byFeature.get(c.feature) ?? 0) + c.nanos);
  const scanMs = performance.now() - started;
  return {
    format: 'NDJSON, gzip blocks of 256, JSON index (today)',
    buildMs,
    bytes: file.data.length + indexBytes,
    firstBytes: indexBytes,
    openMs,
    times,
    lookupBytes,
    lookupReads,
    scanBytes: read + indexBytes,
    scanMs,
  };
}

const LAYOUTS: Layout[] = [
  { name: 'rg256', rowGroup: 256 },
  { name: 'rg1024', rowGroup: 1024 },
  { name: 'rg8192', rowGroup: 8192 },
  // Larger groups, each column cut into pages of about 4 KiB whose min/max (column index) and
  // offsets (offset index) are written after the data: a lookup reads one page per column.
  { name: 'rg16384-pages', rowGroup: 16_384, pageBytes: 4096 },
];

const kib = (n: number): string => `${(n / 1024).toLocaleString('en-US', { maximumFractionDigits: 0 })} KiB`;
const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const at = (times: readonly number[], q: number): string =>
  ([...times].sort((a, b) => a - b)[Math.floor(q * (times.length - 1))] ?? 0).toFixed(1);

const dir = await mkdtemp(join(tmpdir(), 'request-format-'));
try {
  const rows = [await ndjsonRow(dir)];
  for (const layout of LAYOUTS) rows.push(await parquetRow(dir, layout));
  console.log(
    `${REQUESTS.toLocaleString('en-US')} requests; ${LOOKUPS.toLocaleString('en-US')} lookups by tenant and ` +
      `request id; a lookup from nothing reads the index or footer, then the data\n`,
  );
  console.log(
    '| format | build | stored (per request) | index or footer: size, read + parse | ' +
      'lookup with it in hand: p50 / p99 | read per lookup (index or footer + data), range reads of data | scan of feature + costUsd |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const data = r.lookupBytes / LOOKUPS;
    console.log(
      `| ${r.format} | ${(r.buildMs / 1000).toFixed(1)} s | ${mb(r.bytes)} (${(r.bytes / REQUESTS).toFixed(0)} B) | ` +
        `${kib(r.firstBytes)}, ${r.openMs.toFixed(1)} ms | ${at(r.times, 0.5)} / ${at(r.times, 0.99)} ms | ` +
        `${kib(r.firstBytes + data)} (${kib(r.firstBytes)} + ${kib(data)}), ${(r.lookupReads / LOOKUPS).toFixed(1)} | ` +
        `${mb(r.scanBytes)} read, ${(r.scanMs / 1000).toFixed(1)} s |`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
