import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RequestCost } from '../../../src/domain/requests/request-cost.js';
import { parseRequestLine, requestLine } from '../../../src/domain/requests/request-line.js';
import { parseRequestIndex, type RequestSource } from '../../../src/ports/request-store.js';
import {
  BLOCK_GZIP_LEVEL,
  BLOCK_LINES,
  buildRequestFile,
  bytesSource,
  featureCostsOf,
  findRequests,
  scanRequests,
} from '../../../src/usecases/requests/request-file.js';

function cost(i: number, over: Partial<RequestCost> = {}): RequestCost {
  return {
    requestId: `req-${String(i).padStart(6, '0')}`,
    eventId: `ev-${i}`,
    tenant: 'acme',
    feature: i % 2 === 0 ? 'chat' : 'search',
    model: 'llama',
    requestClass: 'interactive',
    pod: 'pod-a',
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
    nanos: 1_020_000 + i * 7,
    idleNanos: 0,
    meanConcurrency: 3.25,
    maxConcurrency: 7,
    ...over,
  };
}

/** A source that counts the bytes it hands out. */
function counting(source: RequestSource): RequestSource & { read: number } {
  const counted = {
    read: 0,
    index: () => source.index(),
    range: async (offset: number, length: number) => {
      counted.read += length;
      return source.range(offset, length);
    },
  };
  return counted;
}

describe('request lines', () => {
  it('round-trip exactly, hostile strings included', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string({ unit: 'grapheme' }),
        fc.nat(),
        fc.nat(),
        (id, tenant, nanos, micros) => {
          const c = cost(1, { requestId: id, tenant, nanos, gpuMicros: micros });
          expect(parseRequestLine(requestLine(c))).toEqual(c);
          expect(requestLine(c)).not.toContain('\n');
        },
      ),
    );
  });
});

describe('the per-request file', () => {
  const costs = Array.from({ length: 3 * BLOCK_LINES + 5 }, (_, i) => cost(i));

  it('is a valid gzip of every line, sorted by tenant then request id', async () => {
    const file = await buildRequestFile('2026-11-22', 1, [...costs].reverse());
    const lines = gunzipSync(file.data).toString('utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(costs.length);
    expect(lines.map((l) => parseRequestLine(l).requestId)).toEqual(costs.map((c) => c.requestId));
  });

  it('is the blocks compressed one by one, in order, however many are compressed at once', async () => {
    const file = await buildRequestFile('2026-11-22', 1, costs);
    const sorted = [...costs].sort((a, b) => (a.requestId < b.requestId ? -1 : 1));
    let offset = 0;
    file.index.blocks.forEach((block, i) => {
      expect(block.offset).toBe(offset);
      const part = sorted.slice(i * BLOCK_LINES, (i + 1) * BLOCK_LINES);
      const expected = gzipSync(part.map((c) => `${requestLine(c)}\n`).join(''), { level: BLOCK_GZIP_LEVEL });
      expect(
        Buffer.from(file.data.subarray(block.offset, block.offset + block.length)).equals(expected),
      ).toBe(true);
      offset += block.length;
    });
    expect(offset).toBe(file.data.length);
  });

  it('holds blocks of long, multi-byte lines (several megabytes each) exactly', async () => {
    const long = (i: number) =>
      cost(i, { feature: `${'🌲é"\\'.repeat(1500)}${i % 3}`, tenant: 'x'.repeat(4000) });
    const costs = Array.from({ length: BLOCK_LINES + 10 }, (_, i) => long(i));
    const file = await buildRequestFile('2026-11-22', 1, costs);
    const lines = gunzipSync(file.data).toString('utf8').trimEnd().split('\n');
    expect(lines.map(parseRequestLine)).toEqual(
      [...costs].sort((a, b) => (a.requestId < b.requestId ? -1 : 1)),
    );
    const first = file.index.blocks[0];
    if (first === undefined) throw new Error('no block');
    expect(gunzipSync(file.data.subarray(0, first.length)).length).toBeGreaterThan(1 << 20);
  });

  it('has the same bytes whatever the input order', async () => {
    const a = await buildRequestFile('2026-11-22', 1, costs);
    const b = await buildRequestFile('2026-11-22', 1, [...costs].reverse());
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  });

  it('finds a request by id reading one block, not the day', async () => {
    const file = await buildRequestFile('2026-11-22', 1, costs);
    const source = counting(bytesSource(file));
    expect(await findRequests(source, 'acme', 'req-000300')).toEqual([costs[300]]);
    expect(source.read).toBeLessThanOrEqual(2 * Math.max(...file.index.blocks.map((b) => b.length)));
    expect(source.read).toBeLessThan(file.data.length / 2);
  });

  it('finds nothing for an unknown id', async () => {
    const file = await buildRequestFile('2026-11-22', 1, costs);
    expect(await findRequests(bytesSource(file), 'acme', 'req-999999')).toEqual([]);
    expect(await findRequests(bytesSource(file), 'acme', '')).toEqual([]);
    expect(await findRequests(bytesSource(file), '', '')).toEqual([]);
  });

  it('lists every attempt of an id used twice, across a block boundary', async () => {
    const first = costs[BLOCK_LINES - 1];
    if (first === undefined) throw new Error('fixture');
    // The same id at the end of block 0 and the start of block 1.
    const retried = costs.map((c, i) => (i === BLOCK_LINES ? { ...c, requestId: first.requestId } : c));
    const file = await buildRequestFile('2026-11-22', 1, retried);
    const found = await findRequests(bytesSource(file), 'acme', first.requestId);
    expect(found.map((c) => c.eventId).sort()).toEqual([first.eventId, `ev-${BLOCK_LINES}`].sort());
  });

  it("indexes each tenant's features: requests, median, p90 and max cost", async () => {
    const file = await buildRequestFile('2026-11-22', 1, [
      cost(0, { nanos: 10 }),
      cost(2, { nanos: 30 }),
      cost(4, { nanos: 20 }),
    ]);
    expect(featureCostsOf(file.index, 'acme', 'chat')).toEqual({
      requests: 3,
      medianNanos: 20,
      p90Nanos: 30,
      maxNanos: 30,
    });
  });

  it('scans every request', async () => {
    const file = await buildRequestFile('2026-11-22', 1, costs);
    let n = 0;
    for await (const _ of scanRequests(bytesSource(file))) n++;
    expect(n).toBe(costs.length);
  });
});

describe('lookups are by tenant and request id together', () => {
  // Three tenants that chose the same ids: each id is three requests, one per tenant.
  const tenants = ['alice', 'bob', 'carol'];
  const shared = tenants.flatMap((tenant, t) =>
    Array.from({ length: 2 * BLOCK_LINES }, (_, i) =>
      cost(i, { tenant, eventId: `ev-${tenant}-${i}`, nanos: 1000 * (t + 1) + i }),
    ),
  );

  it("finds only the tenant's attempts under an id other tenants also used", async () => {
    const file = await buildRequestFile('2026-11-22', 1, shared);
    for (const tenant of tenants) {
      const found = await findRequests(bytesSource(file), tenant, 'req-000300');
      expect(found.map((c) => [c.tenant, c.eventId])).toEqual([[tenant, `ev-${tenant}-300`]]);
    }
  });

  it('finds nothing for a tenant that did not use the id, as for an id nobody used', async () => {
    const file = await buildRequestFile('2026-11-22', 1, shared);
    expect(await findRequests(bytesSource(file), 'dave', 'req-000300')).toEqual([]);
    expect(await findRequests(bytesSource(file), 'alic', 'req-000300')).toEqual([]);
    expect(await findRequests(bytesSource(file), 'alice', 'req-999999')).toEqual([]);
  });

  it("reads only the blocks that can hold the tenant's key, never the other tenants' requests", async () => {
    const file = await buildRequestFile('2026-11-22', 1, shared);
    const source = counting(bytesSource(file));
    await findRequests(source, 'bob', 'req-000300');
    expect(source.read).toBeLessThanOrEqual(2 * Math.max(...file.index.blocks.map((b) => b.length)));
    expect(file.index.blocks.map((b) => b.first.tenant)).toEqual([
      'alice',
      'alice',
      'bob',
      'bob',
      'carol',
      'carol',
    ]);
  });

  it("lists every attempt of a tenant's id across a block boundary, and no other tenant's", async () => {
    // bob's last line of his first block and first of his second share an id; alice and carol use it too.
    const id = `req-${String(BLOCK_LINES - 1).padStart(6, '0')}`;
    const retried = shared.map((c) =>
      c.tenant === 'bob' && c.requestId === `req-${String(BLOCK_LINES).padStart(6, '0')}`
        ? { ...c, requestId: id }
        : c,
    );
    const file = await buildRequestFile('2026-11-22', 1, retried);
    const found = await findRequests(bytesSource(file), 'bob', id);
    expect(found.map((c) => c.eventId).sort()).toEqual([
      `ev-bob-${BLOCK_LINES - 1}`,
      `ev-bob-${BLOCK_LINES}`,
    ]);
  });

  it("scans one tenant's requests reading only its blocks", async () => {
    const file = await buildRequestFile('2026-11-22', 1, shared);
    const source = counting(bytesSource(file));
    const seen: string[] = [];
    for await (const c of scanRequests(source, 'bob')) seen.push(c.tenant);
    expect(seen).toHaveLength(2 * BLOCK_LINES);
    expect(new Set(seen)).toEqual(new Set(['bob']));
    // Bob's two blocks and the one before them (whose end might have held his first lines).
    expect(source.read).toBeLessThanOrEqual(3 * Math.max(...file.index.blocks.map((b) => b.length)));
  });

  it("keeps each tenant's feature figures apart, even under the same feature name", async () => {
    const file = await buildRequestFile('2026-11-22', 1, [
      cost(0, { tenant: 'alice', nanos: 10 }),
      cost(2, { tenant: 'bob', nanos: 500 }),
      cost(4, { tenant: 'bob', nanos: 700 }),
    ]);
    expect(featureCostsOf(file.index, 'alice', 'chat')).toMatchObject({ requests: 1, maxNanos: 10 });
    expect(featureCostsOf(file.index, 'bob', 'chat')).toMatchObject({ requests: 2, maxNanos: 700 });
  });

  it('reads feature figures by own keys only: a tenant or feature named __proto__ or constructor is a name', async () => {
    const file = await buildRequestFile('2026-11-22', 1, [
      cost(0, { tenant: '__proto__', feature: 'constructor' }),
    ]);
    const index = parseRequestIndex(JSON.stringify(file.index));
    expect(featureCostsOf(index, '__proto__', 'constructor')).toMatchObject({ requests: 1 });
    expect(featureCostsOf(index, 'constructor', 'chat')).toBeUndefined();
    expect(featureCostsOf(index, '__proto__', 'toString')).toBeUndefined();
  });

  it('refuses an index of version 1 (sorted by request id alone), saying to restate the day', () => {
    expect(() => parseRequestIndex(JSON.stringify({ version: 1, blocks: [] }))).toThrow(/restate the day/);
  });
});
