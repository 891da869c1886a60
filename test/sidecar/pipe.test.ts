import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventPipe, type PipeCounters, type Sender } from '../../src/sidecar/pipe.js';

/** A stand-in for Event Hubs that can be made unreachable. */
class FlakySender implements Sender {
  readonly received: Record<string, unknown>[] = [];
  down = false;
  failures = 0;
  send(events: readonly Record<string, unknown>[]): Promise<void> {
    if (this.down) {
      this.failures += 1;
      return Promise.reject(new Error('getaddrinfo ENOTFOUND example.servicebus.windows.net'));
    }
    this.received.push(...events);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function counting(): PipeCounters & { totals: Record<string, number>; deepest: number } {
  const totals: Record<string, number> = { published: 0, spooled: 0, replayed: 0, dropped: 0, rejected: 0 };
  return {
    totals,
    deepest: 0,
    published: (n) => (totals.published = (totals.published ?? 0) + n),
    spooled: (n) => (totals.spooled = (totals.spooled ?? 0) + n),
    replayed: (n) => (totals.replayed = (totals.replayed ?? 0) + n),
    dropped: (n) => (totals.dropped = (totals.dropped ?? 0) + n),
    rejected: (n) => (totals.rejected = (totals.rejected ?? 0) + n),
    queueDepth(n) {
      this.deepest = Math.max(this.deepest, n);
    },
  };
}

const events = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ eventId: `e-${from + i}` }));
const ids = (list: readonly Record<string, unknown>[]) => list.map((e) => String(e.eventId));
const quiet = () => undefined;

describe('event pipe', () => {
  it('delivers every event exactly once and in order across an Event Hubs outage', async () => {
    const sender = new FlakySender();
    const counters = counting();
    const pipe = new EventPipe(sender, {
      spoolDir: mkdtempSync(join(tmpdir(), 'pipe-')),
      queueMax: 1000,
      batchMax: 7,
      counters,
      log: quiet,
    });
    for (const e of events(0, 20)) pipe.enqueue(e);
    await pipe.drain();
    sender.down = true;
    for (const e of events(20, 30)) pipe.enqueue(e);
    await pipe.drain();
    for (const e of events(50, 30)) pipe.enqueue(e); // while spooling: to the spool, behind the others
    await pipe.drain();
    expect(sender.failures).toBeGreaterThan(0);
    expect(counters.totals.spooled).toBe(60);
    sender.down = false;
    for (const e of events(80, 20)) pipe.enqueue(e);
    await pipe.drain();
    for (const e of events(100, 5)) pipe.enqueue(e);
    await pipe.drain();
    expect(ids(sender.received)).toEqual(ids(events(0, 105)));
    expect(counters.totals.dropped).toBe(0);
  });

  it('splits a long outage over spool files of bounded size and replays them all in order', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const sender = new FlakySender();
    const counters = counting();
    const pipe = new EventPipe(sender, {
      spoolDir,
      queueMax: 1000,
      batchMax: 25,
      spoolFileBytes: 1000,
      counters,
      log: quiet,
    });
    sender.down = true;
    // About 5 KB of NDJSON arriving over time, as requests finish during an outage.
    for (let i = 0; i < 300; i += 10) {
      for (const e of events(i, 10)) pipe.enqueue(e);
      await new Promise((r) => setImmediate(r));
    }
    await pipe.drain();
    const files = readdirSync(spoolDir).filter((f) => f.endsWith('.ndjson'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect(statSync(join(spoolDir, f)).size).toBeLessThan(1000 + 100);
    sender.down = false;
    await pipe.drain();
    expect(ids(sender.received)).toEqual(ids(events(0, 300)));
    expect(counters.totals).toMatchObject({ spooled: 300, replayed: 300, dropped: 0 });
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('replays the spool a previous process left behind before anything new', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const first = new FlakySender();
    first.down = true;
    const before = new EventPipe(first, { spoolDir, queueMax: 1000, log: quiet });
    for (const e of events(0, 12)) before.enqueue(e);
    await before.drain(); // the process dies here with 12 events on disk
    const second = new FlakySender();
    const after = new EventPipe(second, { spoolDir, queueMax: 1000, batchMax: 5, log: quiet });
    after.enqueue({ eventId: 'new' });
    await after.drain();
    expect(ids(second.received)).toEqual([...ids(events(0, 12)), 'new']);
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('resumes a half-replayed spool file where it stopped, not from its start', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    writeFileSync(
      join(spoolDir, 'spool-000000000000001-000000.ndjson'),
      events(0, 10)
        .map((e) => `${JSON.stringify(e)}\n`)
        .join(''),
    );
    writeFileSync(join(spoolDir, 'spool-000000000000001-000000.ndjson.sent'), '6');
    const sender = new FlakySender();
    const pipe = new EventPipe(sender, { spoolDir, queueMax: 1000, log: quiet });
    await pipe.drain();
    expect(ids(sender.received)).toEqual(ids(events(6, 4)));
  });

  it('spools instead of growing memory when the queue is full', async () => {
    const sender = new FlakySender();
    const counters = counting();
    const pipe = new EventPipe(sender, {
      spoolDir: mkdtempSync(join(tmpdir(), 'pipe-')),
      queueMax: 10,
      batchMax: 1000,
      counters,
      log: quiet,
    });
    for (const e of events(0, 25)) pipe.enqueue(e);
    // The full queue went to the spool first, then everything after it: nothing in memory beyond queueMax.
    expect(counters.deepest).toBe(10);
    await pipe.drain();
    expect(counters.totals.spooled).toBe(25);
    expect(ids(sender.received)).toEqual(ids(events(0, 25)));
  });

  it('counts and logs events it cannot keep when the spool cannot be written', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipe-'));
    const sender = new FlakySender();
    sender.down = true;
    const counters = counting();
    const logged: string[] = [];
    const pipe = new EventPipe(sender, { spoolDir, queueMax: 1000, counters, log: (m) => logged.push(m) });
    // Make the spool unwritable: a file where the spool folder was cannot take files.
    rmSync(spoolDir, { recursive: true });
    writeFileSync(spoolDir, '');
    for (const e of events(0, 3)) pipe.enqueue(e);
    await pipe.drain().catch(() => undefined);
    expect(counters.totals.dropped).toBe(3);
    expect(logged.some((m) => m.startsWith('DROPPED 3 event(s)'))).toBe(true);
  });
});
