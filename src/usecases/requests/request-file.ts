/**
 * A day's per-request costs as stored (see src/ports/request-store.ts): lines sorted by request id,
 * cut into blocks of BLOCK_LINES, each block an independent gzip member, so the whole file is a
 * valid .gz (zcat reads it) and one block can be read and inflated alone. The index names each
 * block's first request id, offset and length: a lookup reads the index and the one or two blocks
 * that can hold the id, never the day.
 */
import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';
import { byRequestId, parseRequestLine, requestLine } from '../../domain/requests/request-line.js';
import type { RequestCost } from '../../domain/requests/request-cost.js';
import type { FeatureCosts, RequestBlock, RequestIndex, RequestSource } from '../../ports/request-store.js';

/**
 * Lines per block. A block of 256 lines is about 100 KB of JSON and 10-15 KB gzipped: one range
 * read of that size costs about what a read of the index does, and gzip still finds the repeats
 * (tenants, features, pods, SKUs) it needs to compress well (see docs/benchmarks.md).
 */
export const BLOCK_LINES = 256;

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
 * compression (about a third of the work, level 6) runs beside the formatting instead of after it;
 * the blocks are put together in order, so the bytes are those of compressing them one by one.
 */
export async function buildRequestFile(
  date: string,
  revision: number,
  costs: readonly RequestCost[],
): Promise<RequestFile> {
  const sorted = [...costs].sort(byRequestId);
  const members: Promise<Buffer>[] = [];
  const blocks: { first: string; count: number }[] = [];
  const text = new BlockText();
  for (let start = 0; start < sorted.length; start += BLOCK_LINES) {
    const part = sorted.slice(start, start + BLOCK_LINES);
    // Bounded: a block waits for the one COMPRESSING places before it, so memory holds a few blocks.
    const before = members[members.length - COMPRESSING];
    if (before !== undefined) await before;
    for (const c of part) text.append(`${requestLine(c)}\n`);
    const member = gzipAsync(text.take(), { level: 6 });
    member.catch(() => undefined); // a failure surfaces once, from Promise.all below
    members.push(member);
    blocks.push({ first: part[0]?.requestId ?? '', count: part.length });
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
      version: 1,
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

function featureCosts(costs: readonly RequestCost[]): Record<string, FeatureCosts> {
  const byFeature = new Map<string, number[]>();
  for (const c of costs) {
    const list = byFeature.get(c.feature) ?? [];
    list.push(c.nanos);
    byFeature.set(c.feature, list);
  }
  const out: Record<string, FeatureCosts> = {};
  for (const feature of [...byFeature.keys()].sort()) {
    const values = (byFeature.get(feature) ?? []).sort((a, b) => a - b);
    const rank = (q: number) => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)] ?? 0;
    Object.defineProperty(out, feature, {
      value: {
        requests: values.length,
        medianNanos: rank(0.5),
        p90Nanos: rank(0.9),
        maxNanos: values.at(-1) ?? 0,
      },
      enumerable: true,
    });
  }
  return out;
}

/** Every cost recorded under `requestId` (one per attempt: retries may reuse an id), in file order. */
export async function findRequests(source: RequestSource, requestId: string): Promise<RequestCost[]> {
  const index = await source.index();
  const blocks = index.blocks;
  // The last block whose first id is before the id, then every block that starts with the id.
  let low = 0;
  let high = blocks.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((blocks[mid]?.first ?? '') < requestId) low = mid + 1;
    else high = mid;
  }
  const found: RequestCost[] = [];
  for (let b = Math.max(0, low - 1); b < blocks.length; b++) {
    const block = blocks[b];
    if (block === undefined || (b >= low && block.first > requestId)) break;
    for (const cost of await readBlock(source, block)) if (cost.requestId === requestId) found.push(cost);
  }
  return found;
}

/** Every cost of the day, block by block. */
export async function* scanRequests(source: RequestSource): AsyncGenerator<RequestCost> {
  for (const block of (await source.index()).blocks) yield* await readBlock(source, block);
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
