/**
 * The day's per-request file made unit by unit: each unit writes its requests' costs as one sorted
 * run (RequestRunWriter), and the runs are merged, streaming, into the file and index that
 * buildRequestFile makes of all the costs at once (mergeRequestRuns): the same bytes, whatever the
 * split of the costs into runs. Memory is one unit's lines while it is written, and a buffer per
 * run and a few blocks while the runs are merged.
 *
 * A run is RUN_MAGIC, then one record per cost in file order, then a record length of 0:
 *
 *   u32 length of the rest | u32 bytes of tenant, request id, event id, feature | f64 nanos |
 *   u8 keys' encoding (1: Latin-1, 2: UTF-16LE) | tenant, request id, event id, feature |
 *   the line, requestLine(cost), without "\n"
 *
 * (little-endian), optionally gzipped (level 1) in independent members: the merge reads both. The
 * keys are kept as code units because they are compared as JS strings are, by code unit, and a lone
 * surrogate (an escape in an event's JSON can make one) would not survive UTF-8: one byte a code
 * unit when every code unit of the four is under 256 (ids and names as they usually are), else two.
 */
import { pipeline } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import type { RequestCost } from '../../domain/requests/request-cost.js';
import { requestLine, type RequestKey } from '../../domain/requests/request-line.js';
import type { ByteSink, RunInfo, RunStorage } from '../../ports/byte-sink.js';
import type { FeatureCosts, RequestBlock, RequestIndex } from '../../ports/request-store.js';
import { BLOCK_GZIP_LEVEL, BLOCK_LINES, tenantFeatureCosts } from './request-file.js';

const RUN_MAGIC = Buffer.from('reqrun2\n');
const END = Buffer.alloc(4);
/** Record length, four string lengths, nanos, the keys' encoding. */
const HEAD = 4 + 16 + 8 + 1;
const LATIN1 = 1;
const UTF16 = 2;
/** A code unit over 255: the keys need two bytes a code unit. */
// eslint-disable-next-line no-control-regex -- the class is every code unit under 256, NUL included
const WIDE = /[^\u0000-\u00ff]/;
/** A run is written in chunks of this size. */
const PIECE = 1 << 20;
/** Blocks being compressed at once on the libuv thread pool, as in buildRequestFile. */
const COMPRESSING = 4;

const gzipAsync = promisify(gzip);

export interface RunWriterOptions {
  /** Gzip the run (level 1): for runs sent over a network; a local disk is faster without. */
  readonly gzip?: boolean;
}

/**
 * A cost where the writer keeps it: its keys (the record's own strings, not copies) and its other
 * fields as numbers in a piece (FIELDS f64, then NAMES u32 indexes into the writer's names).
 */
interface Held extends RequestKey {
  readonly eventId: string;
  readonly piece: Float64Array;
  readonly at: number;
}

/** The numbers of a held cost, in this order, then its names (below) as indexes. */
const FIELDS = 19;
/** feature, model, requestClass, pod, gpuSku: few values, each kept once. */
const NAMES = 5;
const SLOT = FIELDS + NAMES;
/** Costs per piece. */
const PIECE_COSTS = 4096;
const STATUSES = ['ok', 'error', 'aborted'] as const;

/**
 * One unit's requests' costs, added in any order, written by `finish` as one run sorted in file
 * order. A cost is kept as numbers (about 200 bytes, against some 900 for its line), and its line
 * made as it is written: what the writer holds for a pod of a quarter of a million requests is some
 * 50 MB, not the 200 MB of their lines.
 */
export class RequestRunWriter {
  private held: Held[] = [];
  private piece = new Float64Array(SLOT * PIECE_COSTS);
  private used = 0;
  private readonly names = new Map<string, number>();
  private readonly table: string[] = [];
  private finished = false;

  constructor(private readonly options: RunWriterOptions = {}) {}

  get requests(): number {
    return this.held.length;
  }

  add(cost: RequestCost): void {
    if (this.finished) throw new Error('RequestRunWriter: add after finish');
    if (this.used === this.piece.length) {
      this.piece = new Float64Array(SLOT * PIECE_COSTS);
      this.used = 0;
    }
    const p = this.piece;
    const at = this.used;
    p[at] = cost.gpuCount;
    p[at + 1] = cost.startedAt;
    p[at + 2] = cost.firstTokenAt ?? Number.NaN;
    p[at + 3] = cost.finishedAt;
    p[at + 4] = cost.queueMs;
    p[at + 5] = cost.promptTokens;
    p[at + 6] = cost.cachedPromptTokens;
    p[at + 7] = cost.completionTokens;
    p[at + 8] = STATUSES.indexOf(cost.status);
    p[at + 9] = cost.metered ? 1 : 0;
    p[at + 10] = cost.gpuMicros;
    p[at + 11] = cost.prefillGpuMicros;
    p[at + 12] = cost.decodeGpuMicros;
    p[at + 13] = cost.fixedGpuMicros;
    p[at + 14] = cost.idleGpuMicros;
    p[at + 15] = cost.nanos;
    p[at + 16] = cost.idleNanos;
    p[at + 17] = cost.meanConcurrency;
    p[at + 18] = cost.maxConcurrency;
    p[at + 19] = this.name(cost.feature);
    p[at + 20] = this.name(cost.model);
    p[at + 21] = this.name(cost.requestClass);
    p[at + 22] = this.name(cost.pod);
    p[at + 23] = this.name(cost.gpuSku);
    this.used = at + SLOT;
    this.held.push({ tenant: cost.tenant, requestId: cost.requestId, eventId: cost.eventId, piece: p, at });
  }

  /** Writes the run `name` to `storage` (aborted on failure) and lets go of the costs. */
  async finish(storage: RunStorage, name: string): Promise<RunInfo> {
    if (this.finished) throw new Error('RequestRunWriter: finished twice');
    this.finished = true;
    const held = this.held.sort((a, b) => this.order(a, b));
    this.held = [];
    this.piece = new Float64Array(0);
    const sink = new ChunkedSink(storage.create(name), this.options.gzip === true);
    let record = Buffer.allocUnsafe(4096);
    try {
      await sink.append(RUN_MAGIC);
      for (let i = 0; i < held.length; i++) {
        const h = held[i] as Held;
        held[i] = EMPTY_HELD; // let go of each cost as it is written
        const cost = this.cost(h);
        const line = requestLine(cost);
        const { tenant, requestId, eventId, feature } = cost;
        const wide = WIDE.test(tenant) || WIDE.test(requestId) || WIDE.test(eventId) || WIDE.test(feature);
        const keys = tenant.length + requestId.length + eventId.length + feature.length;
        const room = HEAD + (wide ? 2 : 1) * keys + 3 * line.length;
        if (room > record.length) record = Buffer.allocUnsafe(Math.max(room, 2 * record.length));
        const end = encodeRecord(record, cost, line, wide);
        const waiting = sink.append(record.subarray(0, end));
        if (waiting !== undefined) await waiting;
      }
      await sink.append(END);
      const bytes = await sink.close();
      return { name, requests: held.length, bytes };
    } catch (error) {
      await sink.abort().catch(() => undefined); // the first failure is the one to report
      throw error;
    }
  }

  private name(value: string): number {
    let index = this.names.get(value);
    if (index === undefined) {
      index = this.table.length;
      this.table.push(value);
      this.names.set(value, index);
    }
    return index;
  }

  /** The cost a held record stands for. */
  private cost(h: Held): RequestCost {
    const p = h.piece;
    const at = h.at;
    const named = (k: number): string => this.table[p[at + FIELDS + k] as number] as string;
    const first = p[at + 2] as number;
    return {
      requestId: h.requestId,
      eventId: h.eventId,
      tenant: h.tenant,
      feature: named(0),
      model: named(1),
      requestClass: named(2),
      pod: named(3),
      gpuSku: named(4),
      gpuCount: p[at] as number,
      startedAt: p[at + 1] as number,
      firstTokenAt: Number.isNaN(first) ? null : first,
      finishedAt: p[at + 3] as number,
      queueMs: p[at + 4] as number,
      promptTokens: p[at + 5] as number,
      cachedPromptTokens: p[at + 6] as number,
      completionTokens: p[at + 7] as number,
      status: STATUSES[p[at + 8] as number] as RequestCost['status'],
      metered: p[at + 9] === 1,
      gpuMicros: p[at + 10] as number,
      prefillGpuMicros: p[at + 11] as number,
      decodeGpuMicros: p[at + 12] as number,
      fixedGpuMicros: p[at + 13] as number,
      idleGpuMicros: p[at + 14] as number,
      nanos: p[at + 15] as number,
      idleNanos: p[at + 16] as number,
      meanConcurrency: p[at + 17] as number,
      maxConcurrency: p[at + 18] as number,
    };
  }

  /** File order; two costs of one key (not expected: event ids are unique) by their lines. */
  private order(a: Held, b: Held): number {
    if (a.tenant !== b.tenant) return a.tenant < b.tenant ? -1 : 1;
    if (a.requestId !== b.requestId) return a.requestId < b.requestId ? -1 : 1;
    if (a.eventId !== b.eventId) return a.eventId < b.eventId ? -1 : 1;
    return Buffer.compare(Buffer.from(requestLine(this.cost(a))), Buffer.from(requestLine(this.cost(b))));
  }
}

const EMPTY_HELD: Held = { tenant: '', requestId: '', eventId: '', piece: new Float64Array(0), at: 0 };

/** A cost's record in `out` from its start; returns where it ends. */
function encodeRecord(out: Buffer, cost: RequestCost, line: string, wide: boolean): number {
  let at = HEAD;
  const lengths = [cost.tenant, cost.requestId, cost.eventId, cost.feature].map((text) => {
    const written = out.write(text, at, wide ? 'utf16le' : 'latin1');
    at += written;
    return written;
  });
  at += out.write(line, at);
  out.writeUInt32LE(at - 4, 0);
  lengths.forEach((length, i) => out.writeUInt32LE(length, 4 + 4 * i));
  out.writeDoubleLE(cost.nanos, 20);
  out[28] = wide ? UTF16 : LATIN1;
  return at;
}

/**
 * Bytes gathered into chunks of PIECE for a sink, each written (gzipped first, when asked) while
 * the next one is gathered. `append` returns a promise only when it had to wait for a write.
 */
class ChunkedSink {
  private chunk = Buffer.allocUnsafe(PIECE);
  private used = 0;
  private writing: Promise<void> = Promise.resolve();
  private bytes = 0;

  constructor(
    private readonly sink: ByteSink,
    private readonly gzip: boolean,
  ) {}

  append(bytes: Uint8Array): Promise<void> | undefined {
    if (this.used + bytes.length <= this.chunk.length) {
      this.chunk.set(bytes, this.used);
      this.used += bytes.length;
      return undefined;
    }
    return this.flush().then(() => {
      if (bytes.length > this.chunk.length) this.chunk = Buffer.allocUnsafe(bytes.length);
      this.chunk.set(bytes, 0);
      this.used = bytes.length;
    });
  }

  async close(): Promise<number> {
    await this.flush();
    await this.writing;
    await this.sink.close();
    return this.bytes;
  }

  async abort(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.sink.abort();
  }

  private async flush(): Promise<void> {
    await this.writing;
    if (this.used === 0) return;
    const full = this.chunk.subarray(0, this.used);
    this.chunk = Buffer.allocUnsafe(PIECE); // the sink owns the chunk it was given
    this.used = 0;
    this.writing = (async () => {
      const bytes = this.gzip ? await gzipAsync(full, { level: 1 }) : full;
      this.bytes += bytes.length;
      await this.sink.write(bytes);
    })();
    this.writing.catch(() => undefined); // surfaces from the next flush or close
  }
}

/** What a merge held at most: the bytes of its runs' buffers and its blocks (for tests of its bound). */
export interface MergeGauge {
  peakBytes: number;
}

/**
 * The day's per-request file of the costs in `runs` (each as RequestRunWriter wrote it), written to
 * `out`, which is closed (aborted on failure); its index is returned. The bytes and the index are
 * those of buildRequestFile(date, revision, every cost of every run).
 */
export async function mergeRequestRuns(
  date: string,
  revision: number,
  runs: readonly AsyncIterable<Uint8Array>[],
  out: ByteSink,
  gauge: MergeGauge = { peakBytes: 0 },
): Promise<RequestIndex> {
  const meter = new Meter(gauge);
  const readers = runs.map((run, i) => new RunReader(run, `run ${i}`, meter));
  try {
    const heap = new Heap();
    for (const reader of readers) if (await reader.start()) heap.push(reader);
    const file = new FileWriter(out, meter);
    const features = new FeatureFigures();
    for (let top = heap.top(); top !== undefined; top = heap.top()) {
      if (file.add(top)) await file.drain();
      features.add(top.tenant, top.feature, top.nanos);
      if (top.next() || (await top.more())) heap.down();
      else heap.pop();
    }
    const { requests, bytes, blocks } = await file.finish();
    await out.close();
    return { version: 2, date, revision, requests, bytes, blocks, features: features.finish() };
  } catch (error) {
    await out.abort().catch(() => undefined); // the first failure is the one to report
    throw error;
  } finally {
    await Promise.all(readers.map((r) => r.stop()));
  }
}

/** The bytes a merge holds, and the most it held. */
class Meter {
  private held = 0;
  constructor(private readonly gauge: MergeGauge) {}
  change(bytes: number): void {
    this.held += bytes;
    if (this.held > this.gauge.peakBytes) this.gauge.peakBytes = this.held;
  }
}

/** The blocks of the file, compressed a few at a time on the thread pool and written in order. */
class FileWriter {
  private text = Buffer.allocUnsafe(256 * 1024);
  private used = 0;
  private lines = 0;
  private first: RequestKey = { tenant: '', requestId: '' };
  private readonly compressing: {
    member: Promise<Buffer>;
    first: RequestKey;
    count: number;
    text: number;
  }[] = [];
  private readonly blocks: RequestBlock[] = [];
  private requests = 0;
  private offset = 0;

  constructor(
    private readonly out: ByteSink,
    private readonly meter: Meter,
  ) {
    meter.change(this.text.length);
  }

  /** Adds the record's line; true when that sealed a block (then `drain` before going on). */
  add(record: RunReader): boolean {
    const line = record.line;
    if (this.lines === 0) this.first = { tenant: record.tenant, requestId: record.requestId };
    if (this.used + line.length + 1 > this.text.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.used + line.length + 1, 2 * this.text.length));
      this.text.copy(bigger, 0, 0, this.used);
      this.meter.change(bigger.length - this.text.length);
      this.text = bigger;
    }
    this.text.set(line, this.used);
    this.text[this.used + line.length] = 0x0a;
    this.used += line.length + 1;
    this.lines++;
    this.requests++;
    if (this.lines < BLOCK_LINES) return false;
    this.seal();
    return true;
  }

  /** Bounded: the oldest block is written once COMPRESSING newer ones are compressing. */
  async drain(): Promise<void> {
    while (this.compressing.length > COMPRESSING) await this.writeOldest();
  }

  async finish(): Promise<{ requests: number; bytes: number; blocks: RequestBlock[] }> {
    if (this.lines > 0) this.seal();
    while (this.compressing.length > 0) await this.writeOldest();
    return { requests: this.requests, bytes: this.offset, blocks: this.blocks };
  }

  /** The block so far starts compressing. */
  private seal(): void {
    const text = Buffer.from(this.text.subarray(0, this.used));
    this.meter.change(text.length);
    const member = gzipAsync(text, { level: BLOCK_GZIP_LEVEL });
    member.catch(() => undefined); // surfaces when written
    this.compressing.push({ member, first: this.first, count: this.lines, text: text.length });
    this.used = 0;
    this.lines = 0;
  }

  private async writeOldest(): Promise<void> {
    const oldest = this.compressing.shift();
    if (oldest === undefined) return;
    const member = await oldest.member;
    this.meter.change(member.length - oldest.text);
    await this.out.write(member);
    this.meter.change(-member.length);
    this.blocks.push({
      first: oldest.first,
      offset: this.offset,
      length: member.length,
      count: oldest.count,
    });
    this.offset += member.length;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * One run read record by record: the current record's key, feature, nanos and line (a view of
 * the buffer, valid until the buffer is next filled). Checks the run's format and order as it goes.
 */
class RunReader {
  tenant = '';
  requestId = '';
  eventId = '';
  feature = '';
  nanos = 0;
  line: Buffer = EMPTY;
  private buffer: Buffer = EMPTY;
  private position = 0;
  private chunks: AsyncIterator<Uint8Array> | undefined;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly name: string,
    private readonly meter: Meter,
  ) {}

  /** Reads the run's header and first record; false when the run is empty. */
  async start(): Promise<boolean> {
    this.chunks = runBytes(this.source)[Symbol.asyncIterator]();
    const magic = RUN_MAGIC.length;
    if (
      !(await this.fill(magic)) ||
      !this.buffer.subarray(this.position, this.position + magic).equals(RUN_MAGIC)
    )
      throw new Error(`${this.name}: not a run of requests' costs`);
    this.position += magic;
    return this.next() || (await this.more());
  }

  /** Goes on to the next record if it is buffered whole; false when it is not, or the run is over. */
  next(): boolean {
    const available = this.buffer.length - this.position;
    if (available < 4) return false;
    const length = this.buffer.readUInt32LE(this.position);
    if (length === 0 || available - 4 < length) return false;
    this.decode(length);
    return true;
  }

  /** Reads on to the next record; false at the end of the run (and nothing after it). */
  async more(): Promise<boolean> {
    if (!(await this.fill(4))) throw new Error(`${this.name}: cut short`);
    const length = this.buffer.readUInt32LE(this.position);
    if (length === 0) {
      this.position += 4;
      await this.expectEnd();
      return false;
    }
    if (length < HEAD - 4 || !(await this.fill(4 + length))) throw new Error(`${this.name}: cut short`);
    this.decode(length);
    return true;
  }

  async stop(): Promise<void> {
    this.meter.change(-this.buffer.length);
    this.buffer = EMPTY;
    await this.chunks?.return?.();
  }

  private decode(length: number): void {
    const b = this.buffer;
    const start = this.position + 4;
    const sizes = [0, 1, 2, 3].map((i) => b.readUInt32LE(start + 4 * i));
    const end = start + length;
    let at = start + HEAD - 4;
    const encoding = b[start + 24];
    if (encoding !== LATIN1 && encoding !== UTF16) throw new Error(`${this.name}: damaged record`);
    const [tenant, requestId, eventId, feature] = sizes.map((size) => {
      const text = b.toString(encoding === LATIN1 ? 'latin1' : 'utf16le', at, at + size);
      at += size;
      return text;
    }) as [string, string, string, string];
    if (at > end) throw new Error(`${this.name}: damaged record`);
    if (
      tenant < this.tenant ||
      (tenant === this.tenant &&
        (requestId < this.requestId || (requestId === this.requestId && eventId < this.eventId)))
    )
      throw new Error(`${this.name}: not in file order`);
    this.tenant = tenant;
    this.requestId = requestId;
    this.eventId = eventId;
    this.feature = feature;
    this.nanos = b.readDoubleLE(start + 16);
    this.line = b.subarray(at, end);
    this.position = end;
  }

  /** At least `bytes` buffered from the position; false when the run ends first. */
  private async fill(bytes: number): Promise<boolean> {
    let have = this.buffer.length - this.position;
    if (have >= bytes) return true;
    const parts: Uint8Array[] = [this.buffer.subarray(this.position)];
    while (have < bytes) {
      const next = await (this.chunks as AsyncIterator<Uint8Array>).next();
      if (next.done === true) return false;
      parts.push(next.value);
      have += next.value.length;
    }
    const only = parts.length === 2 && have === parts[1]?.length ? parts[1] : undefined;
    const joined =
      only === undefined
        ? Buffer.concat(parts, have)
        : Buffer.from(only.buffer, only.byteOffset, only.length);
    this.meter.change(joined.length - this.buffer.length);
    this.buffer = joined;
    this.position = 0;
    return true;
  }

  private async expectEnd(): Promise<void> {
    let trailing = this.buffer.length - this.position;
    for (;;) {
      const next = await (this.chunks as AsyncIterator<Uint8Array>).next();
      if (next.done === true) break;
      trailing += next.value.length;
    }
    if (trailing > 0) throw new Error(`${this.name}: ${trailing} bytes after its end`);
  }
}

/** A run's bytes, inflated when it was written gzipped (a gzip stream starts with 0x1f 0x8b). */
async function* runBytes(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]();
  try {
    let first = await chunks.next();
    while (first.done !== true && first.value.length === 0) first = await chunks.next();
    if (first.done === true) return;
    const head = first.value;
    const all = (async function* () {
      yield head;
      for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) yield next.value;
    })();
    if (head[0] === 0x1f) yield* pipeline(all, createGunzip(), () => undefined) as AsyncIterable<Buffer>;
    else yield* all;
  } finally {
    await chunks.return?.();
  }
}

/** Record a before record b: file order, then (one key twice) the lines' bytes. */
function before(a: RunReader, b: RunReader): boolean {
  if (a.tenant !== b.tenant) return a.tenant < b.tenant;
  if (a.requestId !== b.requestId) return a.requestId < b.requestId;
  if (a.eventId !== b.eventId) return a.eventId < b.eventId;
  return Buffer.compare(a.line, b.line) < 0;
}

/** The runs by their current records, the first on top. */
class Heap {
  private readonly items: RunReader[] = [];

  top(): RunReader | undefined {
    return this.items[0];
  }

  push(reader: RunReader): void {
    const items = this.items;
    let i = items.push(reader) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(reader, items[parent] as RunReader)) break;
      items[i] = items[parent] as RunReader;
      i = parent;
    }
    items[i] = reader;
  }

  /** Removes the top (its run is over). */
  pop(): void {
    const last = this.items.pop();
    if (last === undefined || this.items.length === 0) return;
    this.items[0] = last;
    this.down();
  }

  /** Puts the top back in its place (its record changed). */
  down(): void {
    const items = this.items;
    const moving = items[0] as RunReader;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && before(items[right] as RunReader, items[left] as RunReader) ? right : left;
      if (!before(items[child] as RunReader, moving)) break;
      items[i] = items[child] as RunReader;
      i = child;
    }
    items[i] = moving;
  }
}

/**
 * The index's per-tenant, per-feature figures, as buildRequestFile's featureCosts computes them,
 * from the merged stream: it is sorted by tenant, so only one tenant's nanos are held at a time.
 */
class FeatureFigures {
  private readonly figures: Record<string, Record<string, FeatureCosts>> = {};
  private tenant: string | undefined;
  private features = new Map<string, number[]>();

  add(tenant: string, feature: string, nanos: number): void {
    if (tenant !== this.tenant) {
      this.closeTenant();
      this.tenant = tenant;
    }
    const list = this.features.get(feature);
    if (list === undefined) this.features.set(feature, [nanos]);
    else list.push(nanos);
  }

  finish(): Record<string, Record<string, FeatureCosts>> {
    this.closeTenant();
    return this.figures;
  }

  private closeTenant(): void {
    if (this.tenant === undefined) return;
    // defineProperty: a tenant named __proto__ is an own key like any other.
    Object.defineProperty(this.figures, this.tenant, {
      value: tenantFeatureCosts(this.features),
      enumerable: true,
    });
    this.features = new Map();
  }
}
