import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { MemoryAlertStore } from '../../src/adapters/memory/memory-alert-store.js';
import { TableAlertStore } from '../../src/adapters/azure-storage/table-alert-store.js';
import type { Alert } from '../../src/domain/drift/alert.js';
import { DEFAULT_LIFECYCLE_POLICY, type AlertRecord } from '../../src/domain/drift/lifecycle.js';
import type { AlertStore, PostClaim } from '../../src/ports/alert-store.js';
import { AlertLifecycle } from '../../src/usecases/drift/lifecycle.js';

const D1 = '2026-03-01';
const D2 = '2026-03-02';
const D3 = '2026-03-03';
const NOW = new Date('2026-03-02T06:00:00.000Z');

// Every character a Table key forbids or an OData filter quotes, percent signs that look like an
// encoding, separators the adapter itself uses, non-ASCII, and an id longer than a key may be.
const ODD_IDS = [
  "latency|tenant=o'brien/eu#1?x=\\y",
  'a%2Fb',
  'a/b',
  'tenant=zürich|feature=日本語|emoji=🚀',
  'ctl\u0001\u007f\ttab',
  `long|${'x'.repeat(2000)}`,
];

function alert(id: string, fields: Partial<Alert> = {}): Alert {
  return {
    id,
    rule: 'cost-per-1k',
    severity: 'warning',
    scope: { tenant: 'acme' },
    metric: 'costPer1kTokens',
    value: 2,
    baseline: 1,
    threshold: 1.5,
    message: 'cost per 1k tokens doubled',
    ...fields,
  };
}

function record(id: string, fields: Partial<AlertRecord> = {}): AlertRecord {
  return { id, status: 'open', openedOn: D1, day: D1, alert: alert(id), ...fields };
}

function claim(id: string, fields: Partial<PostClaim> = {}): PostClaim {
  return {
    day: D1,
    id,
    phase: 'alert',
    kind: 'raised',
    runId: 'run-a',
    claimedAt: NOW.toISOString(),
    ...fields,
  };
}

function lifecycle(store: AlertStore, runId = 'run-a'): AlertLifecycle {
  return new AlertLifecycle({ store, policy: DEFAULT_LIFECYCLE_POLICY, now: () => NOW, runId });
}

/** One run of a day: apply the report and deliver every post it won. */
async function day(
  store: AlertStore,
  date: string,
  alerts: Alert[],
  resolved: string[] = [],
  runId = 'run-a',
) {
  const run = lifecycle(store, runId);
  const { posts } = await run.apply({ date, baselineDays: 28, alerts, resolved });
  for (const post of posts) await run.settle(post, 'posted');
  return posts.map((p) => `${p.kind} ${p.id}`);
}

function contract(name: string, make: () => Promise<AlertStore>): void {
  describe(`alert store contract: ${name}`, () => {
    it('creates a record only if absent and replaces it only at the version read', async () => {
      const store = await make();
      expect(await store.put(record('a'), undefined)).toBe('written');
      expect(await store.put(record('a'), undefined)).toBe('conflict');
      const read = await store.get('a');
      expect(read?.record).toEqual(record('a'));
      expect(await store.put(record('a', { day: D2 }), read?.version)).toBe('written');
      expect(await store.put(record('a', { day: D3 }), read?.version)).toBe('conflict');
      expect((await store.get('a'))?.record.day).toBe(D2);
      expect(await store.get('missing')).toBeUndefined();
    });

    it('gives each (day, id, phase) claim to one claimant and lists a day’s claims with their status', async () => {
      const store = await make();
      expect(await store.claim(claim('a'))).toBe('won');
      expect(await store.claim(claim('a', { runId: 'run-b', kind: 'worsened' }))).toBe('lost');
      expect(await store.claim(claim('a', { phase: 'resolved', kind: 'resolved' }))).toBe('won');
      expect(await store.claim(claim('a', { day: D2 }))).toBe('won');
      await store.settle({ day: D1, id: 'a', phase: 'alert' }, 'queued', NOW.toISOString());
      const claims = await store.claims(D1);
      expect(claims.map((c) => `${c.phase} ${c.status} ${c.runId}`).sort()).toEqual([
        'alert queued run-a',
        'resolved claimed run-a',
      ]);
    });

    it('refuses to settle a claim nobody made', async () => {
      const store = await make();
      await expect(
        store.settle({ day: D1, id: 'a', phase: 'alert' }, 'posted', NOW.toISOString()),
      ).rejects.toThrow();
    });

    it('keeps ids with unusual characters apart and returns them as written', async () => {
      const store = await make();
      for (const id of ODD_IDS) {
        expect(await store.put(record(id), undefined)).toBe('written');
        expect(await store.claim(claim(id))).toBe('won');
        expect(await store.claim(claim(id))).toBe('lost');
      }
      for (const id of ODD_IDS) expect((await store.get(id))?.record.id).toBe(id);
      expect((await store.records()).map((s) => s.record.id).sort()).toEqual([...ODD_IDS].sort());
      expect((await store.claims(D1)).map((c) => c.id).sort()).toEqual([...ODD_IDS].sort());
    });

    it('raises once, stays quiet while the alert persists, posts when it worsens, resolves once, reopens', async () => {
      const store = await make();
      expect(await day(store, D1, [alert('a')])).toEqual(['raised a']);
      expect(await day(store, D2, [alert('a', { value: 2.2 })])).toEqual([]);
      expect(await day(store, D3, [alert('a', { value: 3 })])).toEqual(['worsened a']);
      expect(await day(store, '2026-03-04', [], ['a'])).toEqual(['resolved a']);
      expect(await day(store, '2026-03-05', [], ['a'])).toEqual([]);
      expect(await day(store, '2026-03-06', [alert('a')])).toEqual(['raised a']);
      expect((await store.get('a'))?.record).toMatchObject({ status: 'open', openedOn: '2026-03-06' });
    });

    it('reminds after the re-notify interval', async () => {
      const store = await make();
      await day(store, D1, [alert('a')]);
      for (let d = 2; d <= 7; d++) expect(await day(store, `2026-03-0${d}`, [alert('a')])).toEqual([]);
      expect(await day(store, '2026-03-08', [alert('a')])).toEqual(['reminder a']);
    });

    it('does not post again for a restated day whose figures changed, but keeps the new figures', async () => {
      const store = await make();
      await day(store, D1, [alert('a'), alert('b')]);
      const restated = [alert('a', { value: 9, severity: 'critical' }), alert('b')];
      expect(await day(store, D1, restated, [], 'restatement')).toEqual([]);
      expect((await store.get('a'))?.record.alert).toMatchObject({ value: 9, severity: 'critical' });
    });

    it('lets a restatement of an earlier day neither post nor rewind what a later day stored', async () => {
      const store = await make();
      await day(store, D1, [alert('a')]);
      await day(store, D2, [], ['a']);
      expect(await day(store, D1, [alert('a', { value: 7 })], [], 'restatement')).toEqual([]);
      expect((await store.get('a'))?.record).toMatchObject({
        status: 'resolved',
        day: D2,
        alert: { value: 2 },
      });
    });

    it('raises again the next day an alert whose claimed post was never delivered', async () => {
      const store = await make();
      const { posts } = await lifecycle(store).apply({
        date: D1,
        baselineDays: 28,
        alerts: [alert('a')],
        resolved: [],
      });
      expect(posts).toHaveLength(1);
      expect(await day(store, D1, [alert('a')], [], 'retry')).toEqual([]);
      expect(await day(store, D2, [alert('a')])).toEqual(['raised a']);
    });

    it('counts a post queued in the outbox as heard, so the next day does not raise it again', async () => {
      const store = await make();
      const run = lifecycle(store);
      const { posts } = await run.apply({ date: D1, baselineDays: 28, alerts: [alert('a')], resolved: [] });
      for (const post of posts) await run.settle(post, 'queued');
      expect((await store.claims(D1)).map((c) => c.status)).toEqual(['queued']);
      expect(await day(store, D2, [alert('a')])).toEqual([]);
    });

    it('posts each alert once when runs of the same day race, whatever figures each computed', async () => {
      const store = await make();
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
      await day(
        store,
        D1,
        ids.slice(0, 3).map((id) => alert(id)),
      );
      // D2: a..c persist (b worse in some runs), d..f are new; c resolves in the restated figures.
      const reports = [
        { alerts: ids.map((id) => alert(id)), resolved: [] },
        { alerts: ids.map((id) => alert(id, id === 'b' ? { severity: 'critical' } : {})), resolved: [] },
        { alerts: ids.filter((id) => id !== 'c').map((id) => alert(id, { value: 4 })), resolved: ['c'] },
      ];
      const runs = Array.from({ length: 6 }, (_, i) => {
        const report = reports[i % reports.length] ?? reports[0];
        return day(store, D2, report?.alerts ?? [], report?.resolved ?? [], `run-${i}`);
      });
      const posted = (await Promise.all(runs)).flat();
      const perAlertAndPhase = posted.map((p) => p.replace(/^(raised|worsened|reminder) /, 'alert '));
      expect(new Set(perAlertAndPhase).size).toBe(perAlertAndPhase.length);
      for (const id of ['d', 'e', 'f']) expect(posted).toContain(`raised ${id}`);
      const claims = await store.claims(D2);
      expect(claims.length).toBe(posted.length);
      expect(claims.every((c) => c.status === 'posted')).toBe(true);
    });

    it('reports the open ids of the day before, for the rules’ hysteresis', async () => {
      const store = await make();
      await day(store, D1, [alert('a'), alert('b')]);
      await day(store, D2, [alert('a')], ['b']);
      expect([...(await lifecycle(store).openIds(D2))].sort()).toEqual(['a', 'b']);
      expect([...(await lifecycle(store).openIds(D3))]).toEqual(['a']);
    });
  });
}

contract('memory', () => Promise.resolve(new MemoryAlertStore()));

contract('table (Azurite)', async () => {
  const name = `alerts${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const table = TableClient.fromConnectionString(inject('azurite'), name, { allowInsecureConnection: true });
  const store = new TableAlertStore(table);
  await store.ensure();
  return store;
});
