import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { StorageFanOutStore, StorageWorkQueue } from '../../src/adapters/azure-storage/storage-fan-out.js';
import { startJob } from '../../src/usecases/fan-out/fan-out.js';

/**
 * A fake work as its own module, as the worker loads one: each unit writes where it starts and ends
 * to a log (so the test can see who holds a unit), sleeps, and returns its number; the first fan-in
 * regroups the twelve results into three units; the last adds them up, times ten.
 */
const WORK_MODULE = `
import { appendFileSync } from 'node:fs';
const note = (plan, event) => appendFileSync(plan.log, JSON.stringify({ pid: process.pid, ...event }) + '\\n');
export const work = {
  async runUnit(plan, round, unit) {
    note(plan, { event: 'start', round: round.index, unit });
    await new Promise((resolve) => setTimeout(resolve, plan.sleepMs));
    note(plan, { event: 'end', round: round.index, unit });
    return round.index === 0 ? plan.numbers[unit] : round.context[unit] * 10;
  },
  async fanIn(plan, round, results) {
    note(plan, { event: 'fan-in', round: round.index });
    if (round.index === 0) {
      const groups = { g0: 0, g1: 0, g2: 0 };
      round.units.forEach((unit, i) => (groups['g' + Math.floor(i / 4)] += results.get(unit)));
      return { next: { units: Object.keys(groups), context: groups } };
    }
    return { done: { total: [...results.values()].reduce((a, b) => a + b, 0) } };
  },
};
`;

interface Note {
  readonly pid: number;
  readonly event: 'start' | 'end' | 'fan-in';
  readonly round: number;
  readonly unit?: string;
}

interface Exit {
  readonly pid: number;
  readonly maxRssKiB: number;
  readonly handled: Record<string, number>;
  readonly failed: number;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function worker(env: Record<string, string>): {
  child: ChildProcess;
  exit: Promise<{ code: number | null; stdout: string }>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', 'dev/fan-out-worker.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; stdout: string }>((resolve) =>
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(stderr);
      resolve({ code, stdout });
    }),
  );
  return { child, exit };
}

describe('fan-out across worker processes on Azurite', () => {
  it('completes a job once with every result stored when one of three workers is killed holding a unit', async () => {
    const connection = inject('azurite');
    const id = randomUUID().replace(/-/g, '').slice(0, 12);
    const names = { queue: `fanout-${id}`, table: `fanout${id}`, container: `fanout-${id}` };
    const folder = mkdtempSync(join(tmpdir(), 'fan-out-'));
    const modulePath = join(folder, 'work.mjs');
    const log = join(folder, 'notes.ndjson');
    writeFileSync(modulePath, WORK_MODULE);
    writeFileSync(log, '');
    const queueClient = new QueueClient(connection, names.queue);
    const queue = new StorageWorkQueue(queueClient);
    const store = new StorageFanOutStore(
      TableClient.fromConnectionString(connection, names.table, { allowInsecureConnection: true }),
      BlobServiceClient.fromConnectionString(connection).getContainerClient(names.container),
    );
    await Promise.all([queue.ensure(), store.ensure()]);
    const LEASE_MS = 3000;
    const units = Array.from({ length: 12 }, (_, i) => `partition-${i}`);
    const plan = { log, sleepMs: 600, numbers: Object.fromEntries(units.map((u, i) => [u, i + 1])) };
    await startJob(
      { store, queue, clock: () => new Date(), leaseMs: LEASE_MS },
      'day-2026-12-06',
      plan,
      units,
    );

    const env = {
      FANOUT_STORAGE_CONNECTION_STRING: connection,
      FANOUT_QUEUE: names.queue,
      FANOUT_TABLE: names.table,
      FANOUT_CONTAINER: names.container,
      FANOUT_WORK_MODULE: modulePath,
      // Short, so the killed worker's unit comes back within the test.
      FANOUT_VISIBILITY_S: '3',
      FANOUT_LEASE_MS: String(LEASE_MS),
      FANOUT_EXIT_WHEN_DRAINED: 'true',
    };
    const workers = [worker(env), worker(env), worker(env)];
    const notes = (): Note[] =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Note);

    // Kill the first worker seen inside a unit, while it holds it.
    const victim = await until('a worker inside a unit', () => {
      const started = notes().find((n) => n.event === 'start');
      return workers.find((w) => w.child.pid === started?.pid);
    });
    const held = notes().find((n) => n.event === 'start' && n.pid === victim.child.pid);
    victim.child.kill('SIGKILL');
    const killed = await victim.exit;
    expect(killed.code).toBeNull();
    expect(
      notes().some((n) => n.event === 'end' && n.pid === victim.child.pid && n.unit === held?.unit),
    ).toBe(false);

    const survivors = await Promise.all(workers.filter((w) => w !== victim).map((w) => w.exit));
    expect(survivors.map((s) => s.code)).toEqual([0, 0]);
    const exits = survivors.map((s) => JSON.parse(s.stdout.trim()) as Exit);

    expect(await store.outcome('day-2026-12-06')).toEqual({ total: 780 });
    expect((await store.job('day-2026-12-06'))?.record).toMatchObject({ phase: 'done', round: 1 });
    expect((await store.resultUnits('day-2026-12-06', 0)).sort()).toEqual([...units].sort());
    expect((await store.resultUnits('day-2026-12-06', 1)).sort()).toEqual(['g0', 'g1', 'g2']);
    // The outcome was committed by one survivor, once; the killed worker's unit was run again.
    expect(exits.reduce((n, e) => n + (e.handled.completed ?? 0), 0)).toBe(1);
    expect(notes().filter((n) => n.event === 'start' && n.unit === held?.unit && n.round === 0)).toHaveLength(
      2,
    );
    expect(
      notes()
        .filter((n) => n.event === 'fan-in')
        .map((n) => n.round),
    ).toEqual([0, 1]);
    for (const e of exits) expect(e.maxRssKiB).toBeGreaterThan(10_000);
    for (const e of exits)
      process.stdout.write(
        `fan-out worker: peak RSS ${e.maxRssKiB} KiB, handled ${JSON.stringify(e.handled)}\n`,
      );
    expect((await queueClient.getProperties()).approximateMessagesCount).toBe(0);
  });
});
