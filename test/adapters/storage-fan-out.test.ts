import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { describe, expect, inject, it } from 'vitest';
import { MemoryFanOutStore, MemoryWorkQueue } from '../../src/adapters/memory/memory-fan-out.js';
import { StorageFanOutStore, StorageWorkQueue } from '../../src/adapters/azure-storage/storage-fan-out.js';
import type {
  FanInResult,
  FanOutMessage,
  FanOutStore,
  JobRecord,
  Work,
  WorkQueue,
} from '../../src/ports/fan-out.js';
import {
  handleFanOutMessage,
  parseFanOutMessage,
  startJob,
  type FanOutDeps,
  type FanOutLog,
  type Handled,
} from '../../src/usecases/fan-out/fan-out.js';

const RECORD: JobRecord = {
  phase: 'running',
  round: 0,
  sent: false,
  fanIns: 0,
  startedAt: '2026-12-07T03:00:00.000Z',
  updatedAt: '2026-12-07T03:00:00.000Z',
};
// Text a unit id may hold that a blob name, a URL or base64 could trip on.
const ODD_UNITS = ['0', 'é/😀?#%2F', 'a b', '-_.~', 'x'.repeat(200)];

const id = (): string => randomUUID().replace(/-/g, '').slice(0, 12);

/** Where a test's messages come from: visible ones, each handed over with how to finish it. */
interface Transport {
  readonly queue: WorkQueue;
  receive(): Promise<{ message: FanOutMessage; done(): Promise<void>; failed(): Promise<void> }[]>;
  /** Messages sent and not done, visible or not. */
  waiting(): Promise<number>;
}

function memoryTransport(): Transport {
  const queue = new MemoryWorkQueue();
  let inFlight = 0;
  return {
    queue,
    receive: () =>
      Promise.resolve(
        queue.take().map((message) => {
          inFlight += 1;
          return {
            message,
            done: () => {
              inFlight -= 1;
              return Promise.resolve();
            },
            failed: () => {
              inFlight -= 1;
              queue.putBack(message);
              return Promise.resolve();
            },
          };
        }),
      ),
    waiting: () => Promise.resolve(queue.pending.length + inFlight),
  };
}

async function storageTransport(): Promise<Transport> {
  const client = new QueueClient(inject('azurite'), `fanout-${id()}`);
  const queue = new StorageWorkQueue(client);
  await queue.ensure();
  return {
    queue,
    async receive() {
      const { receivedMessageItems } = await client.receiveMessages({
        numberOfMessages: 8,
        visibilityTimeout: 5,
      });
      return receivedMessageItems.map((item) => ({
        message: parseFanOutMessage(Buffer.from(item.messageText, 'base64').toString('utf8')),
        done: async () => {
          await client.deleteMessage(item.messageId, item.popReceipt);
        },
        failed: async () => {
          await client.updateMessage(item.messageId, item.popReceipt, undefined, 0);
        },
      }));
    },
    async waiting() {
      return (await client.getProperties()).approximateMessagesCount ?? 0;
    },
  };
}

async function storageStore(): Promise<StorageFanOutStore> {
  const connection = inject('azurite');
  const table = TableClient.fromConnectionString(connection, `fanout${id()}`, {
    allowInsecureConnection: true,
  });
  const container = BlobServiceClient.fromConnectionString(connection).getContainerClient(`fanout-${id()}`);
  const store = new StorageFanOutStore(table, container);
  await store.ensure();
  return store;
}

/** One contract, two adapters: what the engine relies on for one result per unit and one commit per round. */
function storeContract(name: string, make: () => Promise<FanOutStore>): void {
  describe(`fan-out store contract: ${name}`, () => {
    it('creates a job once and reads its record, plan and first round back', async () => {
      const store = await make();
      const plan = { text: 'é😀'.repeat(10), big: 'x'.repeat(2_000_000), list: [1, null, true] };
      const version = await store.create('job-1', plan, { units: ['a', 'b'], context: { k: 1 } }, RECORD);
      expect(version).toEqual(expect.any(String));
      expect(await store.create('job-1', { other: true }, { units: ['z'] }, RECORD)).toBeUndefined();
      expect(await store.job('job-1')).toEqual({ record: RECORD, version });
      expect(await store.plan('job-1')).toEqual(plan);
      expect(await store.round('job-1', 0)).toEqual({ units: ['a', 'b'], context: { k: 1 } });
      expect(await store.job('job-2')).toBeUndefined();
    });

    it('keeps the first result of a unit', async () => {
      const store = await make();
      expect(await store.putResult('job-1', 0, 'a', { sum: 1 })).toBe('stored');
      expect(await store.putResult('job-1', 0, 'a', { sum: 2 })).toBe('exists');
      expect(await store.results('job-1', 0)).toEqual(new Map([['a', { sum: 1 }]]));
    });

    it('lists the units with results of one round, whatever their ids hold', async () => {
      const store = await make();
      for (const unit of ODD_UNITS) await store.putResult('job-1', 0, unit, unit.length);
      await store.putResult('job-1', 1, 'other round', 0);
      expect((await store.resultUnits('job-1', 0)).sort()).toEqual([...ODD_UNITS].sort());
      expect(await store.results('job-1', 0)).toEqual(new Map(ODD_UNITS.map((u) => [u, u.length])));
      expect(await store.hasResult('job-1', 0, ODD_UNITS[1] ?? '')).toBe(true);
      expect(await store.hasResult('job-1', 0, 'missing')).toBe(false);
      expect(await store.resultUnits('job-1', 2)).toEqual([]);
    });

    it('replaces the record only under its current version, one of two at once', async () => {
      const store = await make();
      const first = (await store.create('job-1', null, { units: ['a'] }, RECORD)) ?? '';
      const claim = (token: string): JobRecord => ({
        ...RECORD,
        phase: 'fanning-in',
        claim: { token, until: '2026-12-07T03:01:00.000Z' },
        fanIns: 1,
      });
      const results = await Promise.all([
        store.update('job-1', first, claim('x')),
        store.update('job-1', first, claim('y')),
      ]);
      expect(results.filter((v) => v !== undefined)).toHaveLength(1);
      expect(await store.update('job-1', first, RECORD)).toBeUndefined();
      const token = (await store.job('job-1'))?.record.claim?.token;
      expect(token === 'x' ? results[0] : results[1]).toBe((await store.job('job-1'))?.version);
    });

    it('commits the next round with its record, and nothing under a stale version', async () => {
      const store = await make();
      const first = (await store.create('job-1', null, { units: ['a'] }, RECORD)) ?? '';
      const next = { ...RECORD, round: 1 };
      const version = await store.commit('job-1', first, next, { next: { units: ['b', 'c'], context: [2] } });
      expect(version).toEqual(expect.any(String));
      expect(
        await store.commit('job-1', first, { ...RECORD, round: 2 }, { next: { units: ['d'] } }),
      ).toBeUndefined();
      expect(await store.round('job-1', 1)).toEqual({ units: ['b', 'c'], context: [2] });
      await expect(store.round('job-1', 2)).rejects.toThrow();
      expect(await store.round('job-1', 0)).toEqual({ units: ['a'] });
      expect((await store.job('job-1'))?.record).toEqual(next);
    });

    it('commits the outcome once', async () => {
      const store = await make();
      const first = (await store.create('job-1', null, { units: ['a'] }, RECORD)) ?? '';
      expect(await store.outcome('job-1')).toBeUndefined();
      const done: JobRecord = { ...RECORD, phase: 'done' };
      const results = await Promise.all([
        store.commit('job-1', first, done, { outcome: { total: 1 } }),
        store.commit('job-1', first, done, { outcome: { total: 2 } }),
      ]);
      expect(results.filter((v) => v !== undefined)).toHaveLength(1);
      expect([{ total: 1 }, { total: 2 }]).toContainEqual(await store.outcome('job-1'));
      expect(await store.outcome('job-1')).toEqual(results[0] === undefined ? { total: 2 } : { total: 1 });
    });
  });
}

storeContract('in memory', () => Promise.resolve(new MemoryFanOutStore()));
storeContract('Azure Table and Blob Storage on Azurite', storageStore);

describe('fan-out work queue on Azurite', () => {
  it('sends base64 JSON, as the queue trigger decodes it, delayed when asked', async () => {
    const client = new QueueClient(inject('azurite'), `fanout-${id()}`);
    const queue = new StorageWorkQueue(client);
    await queue.ensure();
    await queue.send([{ job: 'j', round: 0, unit: 'é' }]);
    await queue.send([{ job: 'j', round: 0, fanIn: true }], 60_000);
    const { receivedMessageItems } = await client.receiveMessages({ numberOfMessages: 8 });
    expect(
      receivedMessageItems.map((m) =>
        parseFanOutMessage(Buffer.from(m.messageText, 'base64').toString('utf8')),
      ),
    ).toEqual([{ job: 'j', round: 0, unit: 'é' }]);
    expect((await client.getProperties()).approximateMessagesCount).toBe(2);
  });
});

function sumWork() {
  const fanIns: number[] = [];
  const work: Work = {
    runUnit: (plan, round, unit) =>
      Promise.resolve(
        round.index === 0
          ? ((plan as Record<string, number>)[unit] ?? 0)
          : ((round.context as Record<string, number>)[unit] ?? 0) * 10,
      ),
    fanIn(_plan, round, results): Promise<FanInResult> {
      fanIns.push(round.index);
      const sum = [...results.values()].reduce<number>((a, b) => a + (b as number), 0);
      return Promise.resolve(
        round.index === 0 ? { next: { units: ['all'], context: { all: sum } } } : { done: sum },
      );
    },
  };
  return { work, fanIns };
}

const PLAN = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`p${i}`, i + 1]));
const UNITS = Object.keys(PLAN);
const quiet: FanOutLog = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * `workers` loops receive and handle messages at once until nothing waits; `twice` handles every
 * delivery twice at once (two instances given the same message).
 */
async function drain(
  deps: FanOutDeps,
  transport: Transport,
  work: Work,
  workers = 3,
  twice = false,
): Promise<Handled[]> {
  const handled: Handled[] = [];
  const worker = async (): Promise<void> => {
    while ((await transport.waiting()) > 0) {
      const batch = await transport.receive();
      if (batch.length === 0) await new Promise((r) => setTimeout(r, 50));
      for (const delivery of batch) {
        try {
          const copies = twice ? [delivery.message, delivery.message] : [delivery.message];
          handled.push(...(await Promise.all(copies.map((m) => handleFanOutMessage(deps, work, m, quiet)))));
          await delivery.done();
        } catch {
          await delivery.failed();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return handled;
}

function engineSuite(name: string, make: () => Promise<{ store: FanOutStore; transport: Transport }>): void {
  describe(`fan-out engine: ${name}`, () => {
    const setup = async (): Promise<{ deps: FanOutDeps; store: FanOutStore; transport: Transport }> => {
      const { store, transport } = await make();
      // A one-second lease: the fan-in messages that follow each claim come back within the test.
      const deps: FanOutDeps = { store, queue: transport.queue, clock: () => new Date(), leaseMs: 1000 };
      return { deps, store, transport };
    };

    it('runs a two-round job over three workers, every message delivered twice, to one outcome', async () => {
      const { deps, store, transport } = await setup();
      const { work, fanIns } = sumWork();
      await startJob(deps, 'job-1', PLAN, UNITS);
      const handled = await drain(deps, transport, work, 3, true);
      expect(await store.outcome('job-1')).toBe(780);
      expect(fanIns).toEqual([0, 1]);
      expect(handled.filter((h) => h.kind === 'completed')).toHaveLength(1);
      expect((await store.resultUnits('job-1', 0)).sort()).toEqual([...UNITS].sort());
      expect((await store.job('job-1'))?.record.phase).toBe('done');
    });

    it('runs the fan-in once when the last two units finish at once', async () => {
      const { deps, transport } = await setup();
      const { work, fanIns } = sumWork();
      await startJob(deps, 'job-1', PLAN, UNITS.slice(0, 2));
      const units = (await transport.receive()).filter((d) => 'unit' in d.message);
      const last = await Promise.all(units.map((d) => handleFanOutMessage(deps, work, d.message, quiet)));
      expect(units).toHaveLength(2);
      expect(fanIns).toEqual([0]);
      expect(last.filter((h) => h.kind === 'next-round')).toHaveLength(1);
    });

    it('takes over the fan-in of a worker that stopped in it, once its lease lapses', async () => {
      const { deps, store, transport } = await setup();
      const { work, fanIns } = sumWork();
      let hung = false;
      const hanging: Work = {
        ...work,
        fanIn: (plan, round, results, signal) => {
          if (hung) return work.fanIn(plan, round, results, signal);
          hung = true;
          return new Promise<FanInResult>(() => undefined);
        },
      };
      const stopped: FanOutDeps = { ...deps, renewEveryMs: 3_600_000 }; // a paused process renews nothing
      await startJob(deps, 'job-1', PLAN, UNITS.slice(0, 1));
      const [unit] = (await transport.receive()).filter((d) => 'unit' in d.message);
      if (unit === undefined) throw new Error('no unit message');
      void handleFanOutMessage(stopped, hanging, unit.message, quiet);
      await unit.done(); // as if its handler had finished: only the fan-in message can move the job
      const handled = await drain(deps, transport, hanging);
      expect(handled.map((h) => h.kind)).toContain('completed');
      expect(fanIns).toEqual([0, 1]);
      expect(await store.outcome('job-1')).toBe(10);
      expect((await store.job('job-1'))?.record.fanIns).toBe(1);
    });
  });
}

engineSuite('in memory', () =>
  Promise.resolve({ store: new MemoryFanOutStore(), transport: memoryTransport() }),
);
engineSuite('on Azurite', async () => ({ store: await storageStore(), transport: await storageTransport() }));
