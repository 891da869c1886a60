import { describe, expect, inject, it } from 'vitest';
import { makeDailyChargeback } from '../../functions/dailyChargeback.js';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { makeReportDay } from '../../functions/reportDay.js';
import { invoke } from '../../dev/event-hub-delivery.js';
import { quietContext, TIMER } from '../../dev/functions-runtime.js';
import { drainQueue, hostQueueSettings } from '../../dev/queue-delivery.js';
import { dailyDeps, planDeps, restateDeps, storageClients } from '../../src/composition/composition.js';
import { requestRestatement } from '../../src/usecases/restate/restate.js';
import { capacity, ONE_GPU, TEST_PRICES } from '../helpers/events.js';
import { isolatedServices } from '../helpers/storage.js';

const DAY_MS = 86_400_000;
const FIRST = Date.parse('2026-10-01T00:00:00Z');
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const DAYS = Array.from({ length: 40 }, (_, i) => dayOf(FIRST + i * DAY_MS)); // 2026-10-01 .. 2026-11-09

async function setup() {
  let now = new Date('2026-11-10T00:10:00Z');
  const base = await isolatedServices(inject('azurite'), () => now);
  const s = { ...base, prices: TEST_PRICES, priceSkus: [ONE_GPU] };
  const queues = storageClients(s.config).queues;
  const queue = queues.getQueueClient(s.config.restateQueue);
  const poison = queues.getQueueClient(`${s.config.restateQueue}-poison`);
  const reportDay = makeReportDay(() => Promise.resolve(dailyDeps(s)));
  return {
    s,
    queue,
    poison,
    setNow: (iso: string) => {
      now = new Date(iso);
    },
    // 45 days back, so that all 40 late days are within the restatement window.
    daily: makeDailyChargeback(() => Promise.resolve({ ...planDeps(s), restateDays: 45 })),
    drain: () => drainQueue(queue, poison, reportDay),
    summary: async (day: string) => {
      const text = await s.reports.summary(day);
      return JSON.parse(text ?? '{}') as Record<string, number>;
    },
  };
}

describe('restatement fanned out over the day queue, on Azurite', () => {
  it('reports each of 40 dirty days exactly once, even when some are queued twice', async () => {
    const t = await setup();
    const ingest = makeIngestUsage(() => Promise.resolve({ ...t.s, retryDeadlineMs: 0 }));
    await invoke(
      ingest,
      '0',
      DAYS.map((day, i) => ({
        body: capacity({
          gpuSku: ONE_GPU,
          windowStart: `${day}T01:00:00.000Z`,
          windowEnd: `${day}T01:01:00.000Z`,
        }),
        sequenceNumber: i,
        enqueuedTime: '2026-11-10T00:05:00.000Z',
      })),
    );

    t.setNow('2026-11-10T00:30:00Z');
    await t.daily(TIMER, quietContext());
    expect((await t.queue.getProperties()).approximateMessagesCount).toBe(40);
    // An operator restates five of them at the same time: those days are queued twice.
    await requestRestatement(DAYS.slice(4, 9), restateDeps(t.s));

    const delivery = await t.drain();
    expect(delivery).toEqual({ invocations: 45, succeeded: 45, poisoned: 0 });
    for (const day of DAYS) {
      expect(await t.summary(day), day).toMatchObject({
        date: day,
        revision: 1,
        capacityEvents: 1,
        fleetCostUsd: 0.06,
      });
    }

    // The next night: yesterday, and the five days marked within the clock margin of their report
    // (a commit stamped then might have been missed), which are computed again and found unchanged.
    t.setNow('2026-11-11T00:30:00Z');
    await t.daily(TIMER, quietContext());
    expect(await t.drain()).toEqual({ invocations: 6, succeeded: 6, poisoned: 0 });
    for (const day of [...DAYS, '2026-11-10']) expect((await t.summary(day)).revision, day).toBe(1);
    // The night after, only yesterday.
    t.setNow('2026-11-12T00:30:00Z');
    await t.daily(TIMER, quietContext());
    expect(await t.drain()).toEqual({ invocations: 1, succeeded: 1, poisoned: 0 });
  });

  it('moves a message that is not a day to the poison queue after maxDequeueCount tries', async () => {
    const t = await setup();
    await t.queue.sendMessage(Buffer.from('{"day":"2026-02-30"}').toString('base64'));
    const delivery = await t.drain();
    const tries = hostQueueSettings().maxDequeueCount;
    expect(delivery).toEqual({ invocations: tries, succeeded: 0, poisoned: 1 });
    const poisoned = await t.poison.receiveMessages();
    expect(Buffer.from(poisoned.receivedMessageItems[0]?.messageText ?? '', 'base64').toString()).toBe(
      '{"day":"2026-02-30"}',
    );
  });
});
