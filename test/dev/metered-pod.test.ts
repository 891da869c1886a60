import { describe, expect, it } from 'vitest';
import { EventHubPartitions } from '../../dev/event-hub-delivery.js';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { startMeteredPod } from '../../dev/metered-pod.js';
import { DemoClock } from '../../dev/quality-demo.js';

const IDENTITY = { pod: 'canary-0', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1, model: 'demo-model' };

describe('a metered pod of the local run', () => {
  it("meters requests on the demo's clock and covers its held time with one capacity window a minute", async () => {
    const clock = new DemoClock('2026-03-01T10:00:00Z');
    const vllm = new FakeVllm();
    const pod = await startMeteredPod({ upstream: await vllm.start(), identity: IDENTITY, now: clock.ms });
    try {
      const res = await fetch(new URL('/v1/chat/completions', pod.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant': 'quality', 'x-feature': 'suite' },
        body: JSON.stringify({
          model: 'demo-model',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 3,
        }),
      });
      expect(res.status).toBe(200);
      await res.text();
      clock.set('2026-03-01T10:03:30Z');
    } finally {
      await vllm.stop();
    }
    const events = await pod.stop();
    const usage = events.filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({
      tenant: 'quality',
      feature: 'suite',
      pod: 'canary-0',
      completionTokens: 3,
    });
    expect(String(usage[0]?.startedAt)).toMatch(/^2026-03-01T10:00:0/);
    const windows = events
      .filter((e) => e.type === 'capacity')
      .map((e) => [Date.parse(String(e.windowStart)), Date.parse(String(e.windowEnd))] as const);
    expect(windows).toHaveLength(4);
    // Contiguous from the pod's start to its stop, each at most a minute.
    for (const [i, [start, end]] of windows.entries()) {
      expect(end - start).toBeLessThanOrEqual(60_000);
      if (i > 0) expect(start).toBe(windows[i - 1]?.[1]);
    }
    expect(windows[0]?.[0]).toBeLessThan(Date.parse('2026-03-01T10:00:01Z'));
    expect(windows[3]?.[1]).toBeGreaterThanOrEqual(Date.parse('2026-03-01T10:03:30Z'));
  });

  it('publishes later events after what a partition already holds, and delivers only them', async () => {
    const hub = new EventHubPartitions(2);
    hub.send({ n: 0 }, 'a', '2026-03-01T00:00:00Z');
    hub.send({ n: 1 }, 'a', '2026-03-01T00:00:01Z');
    const delivered: unknown[][] = [];
    const handler = (messages: unknown): Promise<void> => {
      delivered.push(messages as unknown[]);
      return Promise.resolve();
    };
    const count = await hub.publish(handler, [
      { body: { n: 2 }, partitionKey: 'a', enqueuedTime: '2026-03-01T00:00:02Z' },
    ]);
    expect(count).toBe(1);
    expect(delivered).toEqual([[{ n: 2 }]]);
    const partition = hub.partitions.find((p) => p.length === 3);
    expect(partition?.map((m) => m.sequenceNumber)).toEqual([0, 1, 2]);
  });
});
