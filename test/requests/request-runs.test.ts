import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { BlobRunStorage } from '../../src/adapters/azure-storage/blob-run-storage.js';
import { FolderRunStorage } from '../../src/adapters/files/folder-run-storage.js';
import { MemoryRunStorage } from '../../src/adapters/memory/memory-run-storage.js';
import type { RequestCost } from '../../src/domain/requests/request-cost.js';
import { inFileOrder, parseRequestLine, requestLine } from '../../src/domain/requests/request-line.js';
import { formatTimestamp } from '../../src/domain/timestamp.js';
import type { ByteSink, RunStorage } from '../../src/ports/byte-sink.js';
import type { RequestIndex } from '../../src/ports/request-store.js';
import { BLOCK_LINES, buildRequestFile } from '../../src/usecases/requests/request-file.js';
import {
  mergeRequestRuns,
  RequestRunWriter,
  type MergeGauge,
  type RunWriterOptions,
} from '../../src/usecases/requests/request-runs.js';

const DATE = '2026-11-22';

function cost(i: number, over: Partial<RequestCost> = {}): RequestCost {
  return {
    requestId: `req-${String(i).padStart(6, '0')}`,
    eventId: `ev-${i}`,
    tenant: ['acme', 'globex', 'initech'][i % 3] ?? 'acme',
    feature: ['chat', 'search', 'summarise'][(i % 5) % 3] ?? 'chat',
    model: 'llama',
    requestClass: 'interactive',
    pod: `pod-${i % 4}`,
    gpuSku: 'Standard_NC24ads_A100_v4',
    gpuCount: 1,
    startedAt: 1_700_000_000_000_000 + i,
    firstTokenAt: i % 3 === 0 ? null : 1_700_000_000_500_000 + i,
    finishedAt: 1_700_000_001_000_000 + i,
    queueMs: 1.5,
    promptTokens: 100 + i,
    cachedPromptTokens: 10,
    completionTokens: 50,
    status: 'ok',
    metered: true,
    gpuMicros: 1_000_000 + i,
    prefillGpuMicros: 200_000,
    decodeGpuMicros: 300_000,
    fixedGpuMicros: 500_000 + i,
    idleGpuMicros: 0,
    nanos: 1_020_000 + ((i * 7919) % 100_000),
    idleNanos: 0,
    meanConcurrency: 3.25,
    maxConcurrency: 7,
    ...over,
  };
}

/** A sink that keeps what it is given, and says whether it was closed or aborted. */
function memorySink(): ByteSink & { bytes: () => Buffer; state: string } {
  const chunks: Uint8Array[] = [];
  const sink = {
    state: 'open',
    bytes: () => Buffer.concat(chunks),
    write: (chunk: Uint8Array) => {
      chunks.push(chunk);
      return Promise.resolve();
    },
    close: () => {
      sink.state = 'closed';
      return Promise.resolve();
    },
    abort: () => {
      sink.state = 'aborted';
      return Promise.resolve();
    },
  };
  return sink;
}

/** Writes each part as a run (its costs in the order given), merges them; the file and its index. */
async function viaRuns(
  parts: readonly (readonly RequestCost[])[],
  storage: RunStorage = new MemoryRunStorage(97),
  options: RunWriterOptions = {},
  gauge?: MergeGauge,
): Promise<{ data: Buffer; index: RequestIndex }> {
  const names: string[] = [];
  for (const [i, part] of parts.entries()) {
    const writer = new RequestRunWriter(options);
    for (const c of part) writer.add(c);
    names.push((await writer.finish(storage, `unit-${i}`)).name);
  }
  const out = memorySink();
  const index = await mergeRequestRuns(
    DATE,
    3,
    names.map((name) => storage.read(name)),
    out,
    gauge,
  );
  expect(out.state).toBe('closed');
  return { data: out.bytes(), index };
}

async function expectSameAsOneFile(
  costs: readonly RequestCost[],
  merged: { data: Buffer; index: RequestIndex },
): Promise<void> {
  const file = await buildRequestFile(DATE, 3, costs);
  expect(merged.data.equals(Buffer.from(file.data))).toBe(true);
  expect(JSON.stringify(merged.index)).toBe(JSON.stringify(file.index));
}

/** The costs cut into `runs` parts at random, each part shuffled. */
function split(costs: readonly RequestCost[], runs: number, seeds: readonly number[]): RequestCost[][] {
  const parts: RequestCost[][] = Array.from({ length: runs }, () => []);
  costs.forEach((c, i) => parts[(seeds[i % seeds.length] ?? 0) % runs]?.push(c));
  return parts.map((part, p) =>
    part
      .map((c, i) => ({ c, k: ((seeds[(i + p) % seeds.length] ?? 0) * 2654435761 + i) % 1_000_003 }))
      .sort((a, b) => a.k - b.k)
      .map(({ c }) => c),
  );
}

describe('request lines’ instants', () => {
  it('are formatTimestamp’s text, day after day in any order, and read back exactly', () => {
    // From 1700 to 2200 (micros stay safe integers), so the kept date part must change between calls.
    const micros = fc.integer({ min: -8_520_336_000_000_000, max: 7_258_118_400_000_000 });
    fc.assert(
      fc.property(micros, micros, fc.option(micros), (startedAt, finishedAt, firstTokenAt) => {
        const c = cost(1, { startedAt, finishedAt, firstTokenAt });
        const line = requestLine(c);
        expect(line).toContain(`"startedAt":"${formatTimestamp(startedAt)}"`);
        expect(line).toContain(`"finishedAt":"${formatTimestamp(finishedAt)}"`);
        const first = firstTokenAt === null ? 'null' : `"${formatTimestamp(firstTokenAt)}"`;
        expect(line).toContain(`"firstTokenAt":${first}`);
        expect(parseRequestLine(line)).toEqual(c);
      }),
      { numRuns: 2000 },
    );
  });

  it('keep the milliseconds and microseconds of one day apart', () => {
    const day = Date.UTC(2026, 10, 22) * 1000;
    for (const m of [0, 1, 999, 1000, 1001, 59_999_999, 86_399_999_999, 86_400_000_000, -1])
      expect(requestLine(cost(1, { startedAt: day + m }))).toContain(
        `"startedAt":"${formatTimestamp(day + m)}"`,
      );
  });
});

// 'ÿ' is the last code unit a run keeps in one byte, 'Ā' the first it needs two for.
const HOSTILE = [
  '__proto__',
  'constructor',
  '"',
  '\\',
  'a"b\\c',
  '🚀',
  '\ud800',
  '1',
  '10',
  '',
  'Z',
  'ä',
  'ÿ',
  'Āb',
];

describe('merging sorted runs of requests’ costs', () => {
  it('gives the bytes and the index of the one file, whatever the split and the order in each run', async () => {
    const arbitraryCost = fc.record({
      tenant: fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 3 })),
      requestId: fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 4, unit: 'binary' })),
      feature: fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 2 })),
      nanos: fc.integer({ min: -5, max: 2_000_000_000_000 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbitraryCost, { maxLength: 3 * BLOCK_LINES }),
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
        async (drawn, runs, seeds) => {
          const costs = drawn.map((d, i) => cost(i, d));
          await expectSameAsOneFile(costs, await viaRuns(split(costs, runs, seeds)));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('gives an empty file and index for no runs, or only empty runs', async () => {
    await expectSameAsOneFile([], await viaRuns([]));
    await expectSameAsOneFile([], await viaRuns([[], [], []]));
  });

  it('gives the one file from one run, over several blocks', async () => {
    const costs = Array.from({ length: 4 * BLOCK_LINES + 3 }, (_, i) => cost(i));
    await expectSameAsOneFile(costs, await viaRuns([[...costs].reverse()]));
  });

  it('keeps hostile tenants, features and ids as keys of their own (__proto__, quotes, lone surrogates)', async () => {
    const costs = HOSTILE.flatMap((tenant, t) =>
      HOSTILE.map((feature, f) =>
        cost(t * 100 + f, { tenant, feature, requestId: HOSTILE[(t + f) % HOSTILE.length] }),
      ),
    );
    const merged = await viaRuns(split(costs, 3, [5, 1, 2, 8]));
    await expectSameAsOneFile(costs, merged);
    expect(Object.hasOwn(merged.index.features, '__proto__')).toBe(true);
    expect(Object.hasOwn(merged.index.features['\ud800'] ?? {}, '__proto__')).toBe(true);
  });

  it('puts two costs of one key in the order of their lines, whichever runs hold them', async () => {
    const twins = [cost(1, { nanos: 5 }), cost(1, { nanos: 9 }), cost(1, { nanos: 7 }), cost(2)];
    const byLine = [...twins].sort((a, b) => inFileOrder(a, b) || (requestLine(a) < requestLine(b) ? -1 : 1));
    const one = await viaRuns([twins]);
    const other = await viaRuns([
      [twins[2] as RequestCost],
      [twins[1] as RequestCost, twins[3] as RequestCost],
      [twins[0] as RequestCost],
    ]);
    expect(other.data.equals(one.data)).toBe(true);
    await expectSameAsOneFile(byLine, one);
  });

  it('reads gzipped runs as plain ones, the same bytes out', async () => {
    const costs = Array.from({ length: 2 * BLOCK_LINES + 9 }, (_, i) => cost(i));
    const storage = new MemoryRunStorage(1000);
    await expectSameAsOneFile(
      costs,
      await viaRuns(split(costs, 4, [3, 1, 4, 1, 5]), storage, { gzip: true }),
    );
  });

  it('holds a buffer per run and a few blocks, not the runs: 20 runs of 5,000 costs', async () => {
    const costs = Array.from({ length: 100_000 }, (_, i) =>
      cost(i, { tenant: `tenant-${i % 7}`, feature: `feature-${'x'.repeat(200)}-${i % 11}` }),
    );
    const storage = new MemoryRunStorage(64 * 1024);
    const gauge = { peakBytes: 0 };
    const parts = split(costs, 20, [...Array(20).keys()]);
    expect(parts.map((p) => p.length)).toEqual(Array(20).fill(5000));
    const merged = await viaRuns(parts, storage, {}, gauge);
    const lineBytes = costs.reduce((sum, c) => sum + Buffer.byteLength(requestLine(c)), 0);
    expect(lineBytes).toBeGreaterThan(50_000_000);
    expect(gauge.peakBytes).toBeGreaterThan(0);
    expect(gauge.peakBytes).toBeLessThan(6_000_000);
    const file = await buildRequestFile(DATE, 3, costs);
    const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
    expect(digest(merged.data)).toBe(digest(file.data));
  });
});

describe('damaged runs', () => {
  async function mergeOf(
    bytes: Uint8Array[],
  ): Promise<{ failure: unknown; out: ReturnType<typeof memorySink> }> {
    const out = memorySink();
    const run = (async function* () {
      await Promise.resolve();
      yield* bytes;
    })();
    const failure = await mergeRequestRuns(DATE, 1, [run], out).then(
      () => undefined,
      (error: unknown) => error,
    );
    return { failure, out };
  }

  async function runBytes(costs: readonly RequestCost[]): Promise<Buffer> {
    const storage = new MemoryRunStorage();
    const writer = new RequestRunWriter();
    for (const c of costs) writer.add(c);
    await writer.finish(storage, 'r');
    const chunks: Uint8Array[] = [];
    for await (const chunk of storage.read('r')) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  it('fail, the output aborted, when a run is cut short', async () => {
    const bytes = await runBytes([cost(1), cost(2)]);
    const { failure, out } = await mergeOf([bytes.subarray(0, bytes.length - 4)]);
    expect(String(failure)).toMatch(/run 0: cut short/);
    expect(out.state).toBe('aborted');
  });

  it('fail when bytes follow a run’s end', async () => {
    const bytes = await runBytes([cost(1)]);
    expect(String((await mergeOf([bytes, Buffer.from('x')])).failure)).toMatch(/after its end/);
  });

  it('fail when the bytes are not a run', async () => {
    expect(String((await mergeOf([Buffer.from('{"requestId":"a"}\n')])).failure)).toMatch(/not a run/);
  });

  it('fail when a run is out of file order', async () => {
    const first = await runBytes([cost(2)]);
    const second = await runBytes([cost(1)]);
    // Two runs' records spliced into one: header and record of the first, record and end of the second.
    const spliced = Buffer.concat([first.subarray(0, first.length - 4), second.subarray(8)]);
    expect(String((await mergeOf([spliced])).failure)).toMatch(/not in file order/);
  });
});

describe('a writer', () => {
  it('says how many costs and bytes it wrote, and refuses to be used again', async () => {
    const writer = new RequestRunWriter();
    writer.add(cost(1));
    writer.add(cost(2));
    const info = await writer.finish(new MemoryRunStorage(), 'r');
    expect(info).toEqual({ name: 'r', requests: 2, bytes: expect.any(Number) });
    expect(info.bytes).toBeGreaterThan(Buffer.byteLength(requestLine(cost(1))) * 2);
    expect(() => {
      writer.add(cost(3));
    }).toThrow(/after finish/);
  });

  it('aborts the run when the storage fails, and rejects', async () => {
    const storage = new MemoryRunStorage();
    let aborted = false;
    const failing: RunStorage = {
      read: (name) => storage.read(name),
      remove: (name) => storage.remove(name),
      create: () => ({
        write: () => Promise.reject(new Error('disk full')),
        close: () => Promise.resolve(),
        abort: () => {
          aborted = true;
          return Promise.resolve();
        },
      }),
    };
    const writer = new RequestRunWriter();
    for (let i = 0; i < 5000; i++) writer.add(cost(i)); // more than one chunk
    await expect(writer.finish(failing, 'r')).rejects.toThrow('disk full');
    expect(aborted).toBe(true);
  });
});

/** One contract for the three places runs are kept. */
function storageContract(name: string, make: () => Promise<RunStorage>): void {
  describe(`run storage: ${name}`, () => {
    it('gives back the runs written, merged into the one file (gzipped or not)', async () => {
      const costs = Array.from({ length: 3 * BLOCK_LINES }, (_, i) => cost(i, { tenant: HOSTILE[i % 12] }));
      const storage = await make();
      await expectSameAsOneFile(costs, await viaRuns(split(costs, 3, [1, 2, 3, 5]), storage));
      await expectSameAsOneFile(costs, await viaRuns(split(costs, 2, [4, 1]), storage, { gzip: true }));
    });

    it('replaces a run written again under its name', async () => {
      const storage = await make();
      const sink = storage.create('r');
      await sink.write(Buffer.from('first'));
      await sink.close();
      const again = storage.create('r');
      await again.write(Buffer.from('second'));
      await again.close();
      expect(await text(storage.read('r'))).toBe('second');
    });

    it('keeps what a run had when a sink writing it again is aborted', async () => {
      const storage = await make();
      const sink = storage.create('r');
      await sink.write(Buffer.from('kept'));
      await sink.close();
      const dropped = storage.create('r');
      await dropped.write(Buffer.from('dropped'));
      await dropped.abort();
      expect(await text(storage.read('r'))).toBe('kept');
    });

    it('rejects reading a run not there, and removes a run (twice is fine)', async () => {
      const storage = await make();
      await expect(text(storage.read('nothing'))).rejects.toThrow();
      const sink = storage.create('r/../é 1');
      await sink.close();
      expect(await text(storage.read('r/../é 1'))).toBe('');
      await storage.remove('r/../é 1');
      await storage.remove('r/../é 1');
      await expect(text(storage.read('r/../é 1'))).rejects.toThrow();
    });
  });
}

async function text(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

storageContract('in memory', () => Promise.resolve(new MemoryRunStorage(13)));
storageContract(
  'a local folder',
  async () => new FolderRunStorage(join(await mkdtemp(join(tmpdir(), 'runs-')), 'runs')),
);
storageContract('Azure Blob Storage on Azurite', async () => {
  const container = BlobServiceClient.fromConnectionString(inject('azurite')).getContainerClient(
    `runs-${randomUUID().slice(0, 8)}`,
  );
  await container.create();
  // Small blocks, so that a run is many staged blocks.
  return new BlobRunStorage(container, 'day/2026-11-22/', 10_000);
});
