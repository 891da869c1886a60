import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import { EventPipe, type PipeCounters, type Sender, type SendResult } from '../../src/sidecar/pipe.js';
import { REJECTED_FILE } from '../../src/sidecar/spool.js';

/** Takes everything, or (down) fails, or (hanging) never answers; refuses events marked `bad` as invalid. */
class TestSender implements Sender {
  readonly received: Record<string, unknown>[] = [];
  down = false;
  hanging = false;
  send(events: readonly Record<string, unknown>[]): Promise<SendResult> {
    if (this.hanging) return new Promise(() => undefined);
    if (this.down) return Promise.reject(new Error('getaddrinfo ENOTFOUND example.servicebus.windows.net'));
    const rejected = events
      .filter((e) => e.bad === true)
      .map((event) => ({ event, reason: 'refused as invalid' }));
    this.received.push(...events.filter((e) => e.bad !== true));
    return Promise.resolve({ rejected });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function counting(): PipeCounters & { totals: Record<string, number> } {
  const totals: Record<string, number> = {};
  const add = (name: string) => (n: number) => {
    totals[name] = (totals[name] ?? 0) + n;
  };
  return {
    totals,
    published: add('published'),
    spooled: add('spooled'),
    replayed: add('replayed'),
    dropped: add('dropped'),
    rejected: add('rejected'),
    queueDepth: () => undefined,
  };
}

const events = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ eventId: `e-${from + i}` }));
const ids = (list: readonly Record<string, unknown>[]) => list.map((e) => String(e.eventId));
const huge = { eventId: 'huge', type: 'usage', model: 'm'.repeat(2 * 1024 * 1024) };
const setAside = (spoolDir: string) =>
  readFileSync(join(spoolDir, REJECTED_FILE), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { reason: string; event: Record<string, unknown> });
const spooledIds = (spoolDir: string) =>
  readdirSync(spoolDir)
    .filter((f) => f.startsWith('spool-') && f.endsWith('.ndjson'))
    .sort()
    .flatMap((f) => readFileSync(join(spoolDir, f), 'utf8').trimEnd().split('\n'))
    .map((l) => String((JSON.parse(l) as { eventId: unknown }).eventId));

describe('event pipe, events that can never be sent', () => {
  it('sets aside an event larger than a message can be, counted and logged, and sends the rest', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const sender = new TestSender();
    const counters = counting();
    const logged: string[] = [];
    const pipe = new EventPipe(sender, { spoolDir, queueMax: 1000, counters, log: (m) => logged.push(m) });
    pipe.enqueue(events(0, 1)[0] ?? {});
    pipe.enqueue(huge);
    for (const e of events(1, 4)) pipe.enqueue(e);
    await pipe.drain();
    expect(ids(sender.received)).toEqual(ids(events(0, 5)));
    expect(counters.totals).toMatchObject({ published: 5, rejected: 1 });
    const [kept] = setAside(spoolDir);
    expect(kept?.event).toEqual(huge);
    expect(kept?.reason).toMatch(/bytes of JSON/);
    expect(logged.some((m) => m.includes('SET ASIDE event huge'))).toBe(true);
  });

  it('sets aside what the sender refuses as invalid instead of retrying it with everything behind it', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const sender = new TestSender();
    const counters = counting();
    const pipe = new EventPipe(sender, {
      spoolDir,
      queueMax: 1000,
      batchMax: 3,
      counters,
      log: () => undefined,
    });
    for (const e of events(0, 4)) pipe.enqueue(e);
    pipe.enqueue({ eventId: 'bad', bad: true });
    for (const e of events(4, 4)) pipe.enqueue(e);
    await pipe.drain();
    expect(ids(sender.received)).toEqual(ids(events(0, 8)));
    expect(setAside(spoolDir).map((r) => [r.event.eventId, r.reason])).toEqual([
      ['bad', 'refused as invalid'],
    ]);
    expect(counters.totals).toMatchObject({ published: 8, rejected: 1 });
    expect(counters.totals.spooled ?? 0).toBe(0);
  });

  it('sets aside an oversize event found in a spool an older process left, and replays the rest in order', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const lines = [...events(0, 3), huge, ...events(3, 3)].map((e) => `${JSON.stringify(e)}\n`).join('');
    writeFileSync(join(spoolDir, 'spool-000000000000001-000000.ndjson'), lines);
    const sender = new TestSender();
    const pipe = new EventPipe(sender, { spoolDir, queueMax: 1000, batchMax: 2, log: () => undefined });
    pipe.enqueue({ eventId: 'new' });
    await pipe.drain();
    expect(ids(sender.received)).toEqual([...ids(events(0, 6)), 'new']);
    expect(setAside(spoolDir).map((r) => r.event.eventId)).toEqual(['huge']);
    expect(readdirSync(spoolDir)).toEqual([REJECTED_FILE]);
  });
});

describe('the rejected count in Prometheus', () => {
  it('counts set-aside events as chargeback_sidecar_events_total{outcome="rejected"}', async () => {
    const metrics = new SidecarMetrics();
    const pipe = new EventPipe(new TestSender(), {
      spoolDir: mkdtempSync(join(tmpdir(), 'pipe-')),
      queueMax: 1000,
      counters: metrics.pipeCounters(),
      log: () => undefined,
    });
    pipe.enqueue(huge);
    await pipe.drain();
    expect(await metrics.registry.metrics()).toContain(
      'chargeback_sidecar_events_total{outcome="rejected"} 1',
    );
  });
});

describe('event pipe, the spool on the event loop', () => {
  it('writes the spool without waiting on the disk, in order', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const sender = new TestSender();
    sender.down = true;
    const pipe = new EventPipe(sender, { spoolDir, queueMax: 3, batchMax: 1000, log: () => undefined });
    for (const e of events(0, 3)) pipe.enqueue(e);
    pipe.enqueue(events(3, 1)[0] ?? {}); // the queue is full: to the spool
    for (const e of events(4, 6)) pipe.enqueue(e);
    // Still this turn of the event loop: a synchronous write would have put them in a spool file
    // already. (Only the journal is written synchronously.)
    expect(readdirSync(spoolDir).filter((f) => f.startsWith('spool-'))).toEqual([]);
    await pipe.drain();
    expect(spooledIds(spoolDir)).toEqual(ids(events(0, 10)));
  });
});

describe('event pipe, a process about to die', () => {
  it('puts every event only in memory on disk at once: queued, in a send not answered, and being spooled', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const sender = new TestSender();
    sender.hanging = true;
    const pipe = new EventPipe(sender, { spoolDir, queueMax: 1000, batchMax: 4, log: () => undefined });
    for (const e of events(0, 10)) pipe.enqueue(e); // e-0..3 in a send that never answers, the rest queued
    expect(pipe.spoolSync()).toBe(10);
    expect(new Set(spooledIds(spoolDir))).toEqual(new Set(ids(events(0, 10))));

    // The same with an outage: events handed to the spool but not yet written.
    const outageDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const down = new TestSender();
    down.down = true;
    const crashing = new EventPipe(down, { spoolDir: outageDir, queueMax: 2, log: () => undefined });
    for (const e of events(0, 6)) crashing.enqueue(e);
    crashing.spoolSync();
    expect(new Set(spooledIds(outageDir))).toEqual(new Set(ids(events(0, 6))));

    // The next process sends them.
    const next = new TestSender();
    await new EventPipe(next, { spoolDir, queueMax: 1000, log: () => undefined }).drain();
    expect(new Set(ids(next.received))).toEqual(new Set(ids(events(0, 10))));
    expect(existsSync(join(spoolDir, REJECTED_FILE))).toBe(false);
  });
});
