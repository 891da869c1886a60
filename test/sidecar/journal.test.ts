import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventPipe, type Sender } from '../../src/sidecar/pipe.js';

/** A stand-in for Event Hubs whose sends can fail, or hang as a stalled connection does. */
class TestSender implements Sender {
  readonly received: Record<string, unknown>[] = [];
  down = false;
  hanging = false;
  send(events: readonly Record<string, unknown>[]): Promise<void> {
    if (this.hanging) return new Promise(() => undefined);
    if (this.down) return Promise.reject(new Error('unreachable'));
    this.received.push(...events);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const events = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ eventId: `e-${from + i}`, type: 'usage' }));
const ids = (list: readonly Record<string, unknown>[]) => list.map((e) => String(e.eventId));
const quiet = () => undefined;
const journalFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('journal-'));
const journalled = (dir: string) =>
  journalFiles(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l !== '')
    .map((l) => String((JSON.parse(l) as { eventId: unknown }).eventId));
const spoolDir = () => mkdtempSync(join(tmpdir(), 'journal-'));

describe('the event journal', () => {
  it('has every event on disk as soon as it is enqueued, before any send', () => {
    const dir = spoolDir();
    const pipe = new EventPipe(new TestSender(), { spoolDir: dir, queueMax: 1000, log: quiet });
    for (const e of events(0, 5)) pipe.enqueue(e);
    // The same turn of the event loop: nothing was sent, nothing spooled, yet all five are on disk.
    expect(journalled(dir)).toEqual(ids(events(0, 5)));
  });

  it('is removed once the events in it are delivered', async () => {
    const dir = spoolDir();
    const sender = new TestSender();
    const pipe = new EventPipe(sender, { spoolDir: dir, queueMax: 1000, batchMax: 3, log: quiet });
    for (const e of events(0, 10)) pipe.enqueue(e);
    await pipe.drain();
    expect(ids(sender.received)).toEqual(ids(events(0, 10)));
    expect(readdirSync(dir)).toEqual([]);
    expect(pipe.idle()).toBe(true);
  });

  it('is removed once the events in it are in the spool, during an outage', async () => {
    const dir = spoolDir();
    const sender = new TestSender();
    sender.down = true;
    const pipe = new EventPipe(sender, { spoolDir: dir, queueMax: 1000, log: quiet });
    for (const e of events(0, 10)) pipe.enqueue(e);
    await pipe.drain();
    expect(journalFiles(dir)).toEqual([]);
    expect(readdirSync(dir).some((f) => f.startsWith('spool-'))).toBe(true);
  });

  it('lets a process killed with events in memory lose none: the next one replays the journal', async () => {
    const dir = spoolDir();
    const stalled = new TestSender();
    stalled.hanging = true;
    const killed = new EventPipe(stalled, { spoolDir: dir, queueMax: 1000, batchMax: 4, log: quiet });
    for (const e of events(0, 10)) killed.enqueue(e); // e-0..3 in a send never answered, the rest queued
    // The process dies here, running no handler: nothing is closed, drained or spooled.
    const sender = new TestSender();
    const logged: string[] = [];
    const next = new EventPipe(sender, { spoolDir: dir, queueMax: 1000, log: (m) => logged.push(m) });
    next.enqueue({ eventId: 'new', type: 'usage' });
    await next.drain();
    expect(ids(sender.received)).toEqual([...ids(events(0, 10)), 'new']);
    expect(logged.some((m) => m.startsWith('replaying 1 journal file(s)'))).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('lets a process killed while its spool writes are pending lose none', async () => {
    const dir = spoolDir();
    const down = new TestSender();
    down.down = true;
    const killed = new EventPipe(down, { spoolDir: dir, queueMax: 2, log: quiet });
    for (const e of events(0, 6)) killed.enqueue(e); // the queue overflows: handed to the spool, not yet written
    const sender = new TestSender();
    await new EventPipe(sender, { spoolDir: dir, queueMax: 1000, log: quiet }).drain();
    expect(new Set(ids(sender.received))).toEqual(new Set(ids(events(0, 6))));
  });

  it('is bounded: a file closes at its size and the next event starts another', () => {
    const dir = spoolDir();
    const sender = new TestSender();
    sender.hanging = true;
    const pipe = new EventPipe(sender, {
      spoolDir: dir,
      queueMax: 100_000,
      batchMax: 1000,
      journalFileBytes: 1000,
      log: quiet,
    });
    for (const e of events(0, 300)) pipe.enqueue(e);
    const files = journalFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(5);
    const line = Buffer.byteLength(`${JSON.stringify(events(299, 1)[0])}\n`);
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThan(1000 + line);
    expect(journalled(dir)).toEqual(ids(events(0, 300)));
  });

  it('keeps the journal files of events not yet delivered, and only those', async () => {
    const dir = spoolDir();
    let release: (() => void) | undefined;
    const sender: Sender & { received: Record<string, unknown>[] } = {
      received: [],
      send(batch) {
        this.received.push(...batch);
        // The second batch hangs until released: the files of the first go, the others stay.
        return this.received.length > 100 ? new Promise((r) => (release = r)) : Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    const pipe = new EventPipe(sender, {
      spoolDir: dir,
      queueMax: 100_000,
      batchMax: 100,
      journalFileBytes: 1000,
      log: quiet,
    });
    for (const e of events(0, 200)) pipe.enqueue(e);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const left = journalled(dir);
    expect(left).toContain('e-100');
    expect(left).toContain('e-199');
    expect(left.length).toBeLessThan(200); // files holding only e-0..e-99 are gone
    release?.();
    await pipe.drain();
    expect(journalFiles(dir)).toEqual([]);
  });

  it('is not replayed again after a crash has spooled what was in memory', async () => {
    const dir = spoolDir();
    const stalled = new TestSender();
    stalled.hanging = true;
    const crashing = new EventPipe(stalled, { spoolDir: dir, queueMax: 1000, batchMax: 4, log: quiet });
    for (const e of events(0, 10)) crashing.enqueue(e);
    crashing.spoolSync();
    expect(journalFiles(dir)).toEqual([]);
    const sender = new TestSender();
    await new EventPipe(sender, { spoolDir: dir, queueMax: 1000, log: quiet }).drain();
    expect(ids(sender.received).sort()).toEqual(ids(events(0, 10)).sort()); // each once
  });

  it('says so, and keeps the pipe working, when it cannot be written', async () => {
    const dir = spoolDir();
    const sender = new TestSender();
    const logged: string[] = [];
    const pipe = new EventPipe(sender, { spoolDir: dir, queueMax: 1000, log: (m) => logged.push(m) });
    // A file where the spool folder was: neither the journal nor the spool can be written.
    rmSync(dir, { recursive: true });
    writeFileSync(dir, '');
    for (const e of events(0, 3)) pipe.enqueue(e);
    await pipe.drain();
    expect(ids(sender.received)).toEqual(ids(events(0, 3)));
    expect(logged.filter((m) => m.startsWith('journal: cannot write')).length).toBe(1);
  });
});
