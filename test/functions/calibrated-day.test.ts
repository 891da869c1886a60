import { describe, expect, inject, it } from 'vitest';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { invoke, type HubMessage } from '../../dev/event-hub-delivery.js';
import { fleetTraffic } from '../../dev/fleet-traffic.js';
import { dailyDeps, restateDeps, storageClients } from '../../src/composition/composition.js';
import { makeReportDay } from '../../functions/reportDay.js';
import { drainQueue } from '../../dev/queue-delivery.js';
import { requestRestatement } from '../../src/usecases/restate/restate.js';
import { parseMetrics } from '../../src/domain/metrics/build.js';
import { reportDay } from '../../src/usecases/daily/daily-run.js';
import { DAY } from '../helpers/events.js';
import { isolatedServices } from '../helpers/storage.js';

describe('WEIGHTING=calibrated on Azurite: the fit stored with the day in Blob and reused', () => {
  it('fits at the first report, keeps the constants when late events restate the day', async () => {
    let now = new Date('2026-11-23T00:30:00Z');
    const s = await isolatedServices(inject('azurite'), () => now, { WEIGHTING: 'calibrated' });
    expect(dailyDeps(s).calibrated).toBe(true);
    const ingest = makeIngestUsage(() => Promise.resolve({ ...s, retryDeadlineMs: 0 }));
    const traffic = fleetTraffic({
      date: DAY,
      pods: 3,
      seed: 6,
      requests: 5000,
      duplicateRate: 0,
      partitions: 2,
    });
    const isUsage = (m: HubMessage) => (m.body as { type?: string }).type === 'usage';
    const late = (m: HubMessage, i: number) => isUsage(m) && i % 10 === 7;
    const send = async (keep: (m: HubMessage, i: number) => boolean) => {
      for (const [p, messages] of traffic.hub.partitions.entries()) {
        const chosen = messages.filter(keep);
        for (let i = 0; i < chosen.length; i += 1000)
          await invoke(ingest, String(p), chosen.slice(i, i + 1000));
      }
    };
    // The late messages come later in each partition, as Event Hubs would give them.
    const ordered = traffic.hub.partitions.map((messages) => [
      ...messages.filter((m, i) => !late(m, i)),
      ...messages.filter(late).map((m, j) => ({ ...m, sequenceNumber: 10_000_000 + j })),
    ]);
    traffic.hub.partitions.splice(0, traffic.hub.partitions.length, ...ordered);
    const cut = new Set(
      ordered.flatMap((messages) => messages.filter((m) => m.sequenceNumber >= 10_000_000)),
    );
    await send((m) => !cut.has(m));

    const first = await reportDay(DAY, dailyDeps(s));
    expect(first.revision).toBe(1);
    const stored = parseMetrics((await s.reports.metrics(DAY)) ?? '').calibration ?? [];
    expect(stored.filter((c) => c.source === 'fitted').map((c) => c.model)).toEqual([
      'llama-3.1-8b-instruct',
      'qwen2.5-14b-instruct',
    ]);
    const summary = JSON.parse((await s.reports.summary(DAY)) ?? '{}') as { calibration?: unknown };
    expect(summary.calibration).toEqual(stored);

    now = new Date('2026-11-23T02:30:00Z');
    await send((m) => cut.has(m));
    const restated = await reportDay(DAY, dailyDeps(s));
    expect(restated).toMatchObject({ revision: 2, restated: true });
    expect(restated.events).toBeGreaterThan(first.events);
    expect(parseMetrics((await s.reports.metrics(DAY)) ?? '').calibration).toEqual(stored);

    // An operator restates the day with refit: the queued message makes reportDay fit it anew.
    now = new Date('2026-11-23T04:30:00Z');
    const [message] = await requestRestatement([DAY], restateDeps(s), { refit: true });
    expect(message?.refit).toBe(true);
    const queues = storageClients(s.config).queues;
    const delivery = await drainQueue(
      queues.getQueueClient(s.config.restateQueue),
      queues.getQueueClient(`${s.config.restateQueue}-poison`),
      makeReportDay(() => Promise.resolve(dailyDeps(s))),
    );
    expect(delivery).toMatchObject({ succeeded: 1, poisoned: 0 });
    const refitted = parseMetrics((await s.reports.metrics(DAY)) ?? '');
    expect(refitted.revision).toBe(3);
    const fresh = refitted.calibration ?? [];
    expect(fresh.map((c) => c.source)).toEqual(['fitted', 'fitted']);
    expect(fresh.map((c) => c.requests)).not.toEqual(stored.map((c) => c.requests));
  });
});
