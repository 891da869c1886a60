/**
 * A day's per-request costs as stored (see src/ports/request-store.ts): lines sorted by tenant,
 * then request id, cut into blocks of BLOCK_LINES, each block an independent gzip member, so the
 * whole file is a valid .gz (zcat reads it) and one block can be read and inflated alone. The index
 * names each block's first tenant and request id, offset and length: a lookup is by tenant and id
 * together (clients choose their ids, and two tenants may choose the same one), and reads the index
 * and the one or two blocks that can hold that key, never the day nor another tenant's lines.
 */
import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';
import {
  compareKeys,
  inFileOrder,
  parseRequestLine,
  requestLine,
  type RequestKey,
} from '../../domain/requests/request-line.js';
import type { RequestCost } from '../../domain/requests/request-cost.js';
import type { FeatureCosts, RequestBlock, RequestIndex, RequestSource } from '../../ports/request-store.js';

/**
 * Lines per block. A block of 256 lines is about 100 KB of JSON and 10-15 KB gzipped: one range
 * read of that size costs about what a read of the index does, and gzip still finds the repeats
 * (tenants, features, pods, SKUs) it needs to compress well (see docs/benchmarks.md).
 */
export const BLOCK_LINES = 256;

/**
 * The gzip level of a block. Level 2 against 6 (measured 2026-12-07 on a million-request day):
 * compression about 1.8 times as fast, the file about 16% larger (some 150 bytes a request against
 * 129). Compressing was the day's largest single cost after reading the events; a few more bytes
 * a request in Blob Storage cost less than the instance-seconds.
 */
export const BLOCK_GZIP_LEVEL = 2;

export interface RequestFile {
  readonly data: Uint8Array;
  readonly index: RequestIndex;
}

/** Blocks being compressed at once on the libuv thread pool (4 threads by default). */
const COMPRESSING = 4;

const gzipAsync = promisify(gzip);

/**
 * The file of `costs`: the same bytes whatever their order. Each block is compressed on the thread
 * pool while the next blocks' lines are written here, so on a machine with more than one core the
 * compression runs beside the formatting instead of after it;
 * the blocks are put together in order, so the bytes are those of compressing them one by one.
 */
export async function buildRequestFile(
  date: string,
  revision: number,
  costs: readonly RequestCost[],
): Promise<RequestFile> {
  const sorted = [...costs].sort(inFileOrder);
  const members: Promise<Buffer>[] = [];
  const blocks: { first: RequestKey; count: number }[] = [];
  const text = new BlockText();
  for (let start = 0; start < sorted.length; start += BLOCK_LINES) {
    const part = sorted.slice(start, start + BLOCK_LINES);
    // Bounded: a block waits for the one COMPRESSING places before it, so memory holds a few blocks.
    const before = members[members.length - COMPRESSING];
    if (before !== undefined) await before;
    for (const c of part) text.append(`${requestLine(c)}\n`);
    const member = gzipAsync(text.take(), { level: BLOCK_GZIP_LEVEL });
    member.catch(() => undefined); // a failure surfaces once, from Promise.all below
    members.push(member);
    const head = part[0];
    blocks.push({
      first: { tenant: head?.tenant ?? '', requestId: head?.requestId ?? '' },
      count: part.length,
    });
  }
  const chunks = await Promise.all(members);
  let offset = 0;
  const index: RequestBlock[] = blocks.map((block, i) => {
    const length = chunks[i]?.length ?? 0;
    const entry = { first: block.first, offset, length, count: block.count };
    offset += length;
    return entry;
  });
  const data = new Uint8Array(Buffer.concat(chunks));
  return {
    data,
    index: {
      version: 2,
      date,
      revision,
      requests: sorted.length,
      bytes: data.length,
      blocks: index,
      features: featureCosts(sorted),
    },
  };
}

/**
 * A block's UTF-8 bytes, line by line. Writing each line into a buffer is several times faster
 * than joining the lines into one string first (a line is a rope of some sixty pieces, and the
 * join flattens them all again); the bytes are the same.
 */
class BlockText {
  private buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  append(line: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8, so this much room always holds the line.
    const room = this.used + 3 * line.length;
    if (room > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(room, 2 * this.buffer.length));
      this.buffer.copy(bigger, 0, 0, this.used);
      this.buffer = bigger;
    }
    this.used += this.buffer.write(line, this.used);
  }

  /** The bytes so far, copied (the buffer is reused while they are compressed), and a fresh start. */
  take(): Buffer {
    const bytes = Buffer.from(this.buffer.subarray(0, this.used));
    this.used = 0;
    return bytes;
  }
}

/** Per tenant, per feature: request count, median, p90 and max cost (in the file's order of tenants). */
function featureCosts(sorted: readonly RequestCost[]): Record<string, Record<string, FeatureCosts>> {
  const byTenant = new Map<string, Map<string, number[]>>();
  for (const c of sorted) {
    const features = byTenant.get(c.tenant) ?? new Map<string, number[]>();
    byTenant.set(c.tenant, features);
    const list = features.get(c.feature) ?? [];
    list.push(c.nanos);
    features.set(c.feature, list);
  }
  const out: Record<string, Record<string, FeatureCosts>> = {};
  // defineProperty: a tenant named __proto__ is an own key like any other.
  for (const [tenant, features] of byTenant)
    Object.defineProperty(out, tenant, { value: tenantFeatureCosts(features), enumerable: true });
  return out;
}

/**
 * One tenant's figures, feature by feature (sorted): request count, median, p90 and max of the
 * nanos of each (the lists are sorted in place).
 */
export function tenantFeatureCosts(features: ReadonlyMap<string, number[]>): Record<string, FeatureCosts> {
  const figures: Record<string, FeatureCosts> = {};
  for (const feature of [...features.keys()].sort()) {
    const values = (features.get(feature) ?? []).sort((a, b) => a - b);
    const rank = (q: number) => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)] ?? 0;
    // defineProperty: a feature named __proto__ is an own key like any other.
    Object.defineProperty(figures, feature, {
      value: {
        requests: values.length,
        medianNanos: rank(0.5),
        p90Nanos: rank(0.9),
        maxNanos: values.at(-1) ?? 0,
      },
      enumerable: true,
    });
  }
  return figures;
}

/** A tenant's figures for one of its features, or undefined (own keys only: `constructor` is a name). */
export function featureCostsOf(
  index: RequestIndex,
  tenant: string,
  feature: string,
): FeatureCosts | undefined {
  const features = Object.hasOwn(index.features, tenant) ? index.features[tenant] : undefined;
  return features !== undefined && Object.hasOwn(features, feature) ? features[feature] : undefined;
}

/**
 * Every cost recorded under `requestId` by `tenant` (one per attempt: retries may reuse an id), in
 * file order. The same id sent by another tenant is another key: it is not read, and not found.
 */
export async function findRequests(
  source: RequestSource,
  tenant: string,
  requestId: string,
): Promise<RequestCost[]> {
  const key = { tenant, requestId };
  const found: RequestCost[] = [];
  for await (const cost of costsFrom(source, key, (first) => compareKeys(first, key) > 0))
    if (compareKeys(cost, key) === 0) found.push(cost);
  return found;
}

/** Every cost of the day, block by block, or of one tenant: only the blocks that can hold its lines. */
export async function* scanRequests(source: RequestSource, tenant?: string): AsyncGenerator<RequestCost> {
  if (tenant === undefined) {
    for (const block of (await source.index()).blocks) yield* await readBlock(source, block);
    return;
  }
  const start = { tenant, requestId: '' };
  for await (const cost of costsFrom(source, start, (first) => first.tenant > tenant))
    if (cost.tenant === tenant) yield cost;
}

/**
 * The costs of the blocks that can hold `key` and what follows it: from the last block whose first
 * key is before `key` (its end may hold it), on to the first block for which `past` holds.
 */
async function* costsFrom(
  source: RequestSource,
  key: RequestKey,
  past: (first: RequestKey) => boolean,
): AsyncGenerator<RequestCost> {
  const blocks = (await source.index()).blocks;
  let low = 0;
  let high = blocks.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    const first = blocks[mid]?.first;
    if (first !== undefined && compareKeys(first, key) < 0) low = mid + 1;
    else high = mid;
  }
  for (let b = Math.max(0, low - 1); b < blocks.length; b++) {
    const block = blocks[b];
    if (block === undefined || (b >= low && past(block.first))) return;
    yield* await readBlock(source, block);
  }
}

async function readBlock(source: RequestSource, block: RequestBlock): Promise<RequestCost[]> {
  const bytes = await source.range(block.offset, block.length);
  const text = gunzipSync(bytes).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map(parseRequestLine);
}

/** A RequestSource over bytes in memory (tests, the memory report store). */
export function bytesSource(file: RequestFile): RequestSource {
  return {
    index: () => Promise.resolve(file.index),
    range: (offset, length) => Promise.resolve(file.data.subarray(offset, offset + length)),
  };
}
