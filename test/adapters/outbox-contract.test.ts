import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import type { NewOutboxEntry, Outbox } from '../../src/ports/outbox.js';
import { MemoryOutbox } from '../../src/adapters/memory/memory-outbox.js';
import { TableOutbox } from '../../src/adapters/azure-storage/table-outbox.js';

const NOW = new Date('2026-11-23T03:00:00.000Z');
const LEASE = 60_000;

function entry(key: string, enqueuedAt: string, body = `{"key":"${key}"}`): NewOutboxEntry {
  return { key, body, enqueuedAt, lastError: 'TransientError: Teams webhook answered 503' };
}

const keys = (entries: readonly { key: string }[]): string[] => entries.map((e) => e.key);

/** One contract, two adapters: what delivery relies on to send each waiting card once, oldest first. */
function contract(name: string, make: () => Promise<Outbox>): void {
  describe(`outbox contract: ${name}`, () => {
    it('hands out entries oldest first, then by key', async () => {
      const outbox = await make();
      await outbox.add(entry('2026-11-22/alert/b', '2026-11-22T01:00:00.000Z'));
      await outbox.add(entry('2026-11-21/digest', '2026-11-21T01:00:00.000Z'));
      await outbox.add(entry('2026-11-22/alert/a', '2026-11-22T01:00:00.000Z'));
      expect(keys(await outbox.claim(NOW, LEASE, 10))).toEqual([
        '2026-11-21/digest',
        '2026-11-22/alert/a',
        '2026-11-22/alert/b',
      ]);
    });

    it('keeps one entry per key', async () => {
      const outbox = await make();
      expect(await outbox.add(entry('k', '2026-11-22T01:00:00.000Z', 'first'))).toBe(true);
      expect(await outbox.add(entry('k', '2026-11-23T01:00:00.000Z', 'second'))).toBe(false);
      expect(await outbox.list()).toEqual([
        { ...entry('k', '2026-11-22T01:00:00.000Z', 'first'), attempts: 1 },
      ]);
    });

    it('returns the body byte for byte, a 28 KB card of multi-byte text included', async () => {
      const outbox = await make();
      const body = JSON.stringify({ text: 'é😀/#?\\'.repeat(4000) }).slice(0, 28 * 1024);
      await outbox.add(entry('big', '2026-11-22T01:00:00.000Z', body));
      const [claimed] = await outbox.claim(NOW, LEASE, 1);
      expect(claimed?.body).toBe(body);
    });

    it('does not hand a claimed entry to a second caller while the lease holds', async () => {
      const outbox = await make();
      await outbox.add(entry('k', '2026-11-22T01:00:00.000Z'));
      expect(keys(await outbox.claim(NOW, LEASE, 10))).toEqual(['k']);
      expect(await outbox.claim(new Date(NOW.getTime() + LEASE - 1), LEASE, 10)).toEqual([]);
    });

    it('gives two simultaneous callers disjoint entries', async () => {
      const outbox = await make();
      for (const k of ['a', 'b', 'c', 'd']) await outbox.add(entry(k, '2026-11-22T01:00:00.000Z'));
      const [first, second] = await Promise.all([outbox.claim(NOW, LEASE, 10), outbox.claim(NOW, LEASE, 10)]);
      const all = [...keys(first), ...keys(second)].sort();
      expect(all).toEqual(['a', 'b', 'c', 'd']);
    });

    it('removes a delivered entry for good', async () => {
      const outbox = await make();
      await outbox.add(entry('k', '2026-11-22T01:00:00.000Z'));
      const [claimed] = await outbox.claim(NOW, LEASE, 1);
      expect(claimed && (await outbox.remove(claimed))).toBe(true);
      expect(await outbox.list()).toEqual([]);
      expect(await outbox.claim(new Date(NOW.getTime() + 10 * LEASE), LEASE, 10)).toEqual([]);
    });

    it('lets a lapsed claim be taken over, and then refuses the first holder', async () => {
      const outbox = await make();
      await outbox.add(entry('k', '2026-11-22T01:00:00.000Z'));
      const [stale] = await outbox.claim(NOW, LEASE, 1);
      const [fresh] = await outbox.claim(new Date(NOW.getTime() + LEASE), LEASE, 1);
      expect(fresh?.key).toBe('k');
      expect(stale && (await outbox.remove(stale))).toBe(false);
      expect(stale && (await outbox.release(stale, 'late'))).toBe(false);
      expect(fresh && (await outbox.remove(fresh))).toBe(true);
    });

    it('gives a released entry back at once, counting the failed try and its reason', async () => {
      const outbox = await make();
      await outbox.add(entry('k', '2026-11-22T01:00:00.000Z'));
      const [claimed] = await outbox.claim(NOW, LEASE, 1);
      expect(claimed && (await outbox.release(claimed, 'TransientError: 429'))).toBe(true);
      const [again] = await outbox.claim(NOW, LEASE, 1);
      expect(again).toMatchObject({ key: 'k', attempts: 2, lastError: 'TransientError: 429' });
    });

    it('takes at most the limit', async () => {
      const outbox = await make();
      for (const k of ['a', 'b', 'c']) await outbox.add(entry(k, '2026-11-22T01:00:00.000Z'));
      expect(keys(await outbox.claim(NOW, LEASE, 2))).toEqual(['a', 'b']);
    });
  });
}

contract('in memory', () => Promise.resolve(new MemoryOutbox()));
contract('Azure Table Storage on Azurite', async () => {
  const name = `outbox${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const table = TableClient.fromConnectionString(inject('azurite'), name, { allowInsecureConnection: true });
  const outbox = new TableOutbox(table);
  await outbox.ensure();
  return outbox;
});
