import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventHubProducerClient } from '@azure/event-hubs';
import { describe, expect, it } from 'vitest';
import { EventHubsSender, FileSender } from '../../src/sidecar/senders.js';

/** The part of EventHubProducerClient the sender uses, recording batches; a batch holds `capacity` events. */
function fakeProducer(capacity: number) {
  const sent: { partitionKey: string | undefined; bodies: unknown[] }[] = [];
  const producer = {
    createBatch: (options: { partitionKey?: string }) => {
      const bodies: unknown[] = [];
      return Promise.resolve({
        get count() {
          return bodies.length;
        },
        tryAdd: (event: { body: unknown }) => {
          if (bodies.length >= capacity) return false;
          bodies.push(event.body);
          return true;
        },
        partitionKey: options.partitionKey,
        bodies,
      });
    },
    sendBatch: (batch: { partitionKey: string | undefined; bodies: unknown[] }) => {
      sent.push({ partitionKey: batch.partitionKey, bodies: [...batch.bodies] });
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  return { producer: producer as unknown as EventHubProducerClient, sent };
}

describe('Event Hubs sender', () => {
  it('sends with the pod as partition key, in as few batches as fit, in order', async () => {
    const { producer, sent } = fakeProducer(4);
    const events = Array.from({ length: 10 }, (_, i) => ({ eventId: `e-${i}` }));
    await new EventHubsSender(producer, 'vllm-interactive-7c9d').send(events);
    expect(sent.map((b) => b.bodies.length)).toEqual([4, 4, 2]);
    expect(new Set(sent.map((b) => b.partitionKey))).toEqual(new Set(['vllm-interactive-7c9d']));
    expect(sent.flatMap((b) => b.bodies)).toEqual(events);
  });

  it('fails loudly for an event that fits no batch instead of dropping it', async () => {
    const { producer } = fakeProducer(0);
    await expect(new EventHubsSender(producer, 'p').send([{ eventId: 'huge' }])).rejects.toThrow(/huge/);
  });
});

describe('file sender', () => {
  it('appends NDJSON per pod and UTC day, with an unsafe pod name made safe', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sink-'));
    const sender = new FileSender(dir, 'pod/../x', () => new Date('2026-11-22T23:59:59Z'));
    await sender.send([{ a: 1 }]);
    await sender.send([{ a: 2 }]);
    expect(readdirSync(dir)).toEqual(['usage-pod_.._x-2026-11-22.ndjson']);
    expect(readFileSync(join(dir, 'usage-pod_.._x-2026-11-22.ndjson'), 'utf8')).toBe('{"a":1}\n{"a":2}\n');
  });
});
