import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventHubProducerClient } from '@azure/event-hubs';
import { describe, expect, it } from 'vitest';
import { EVENTS_PER_TURN, EventHubsSender, FileSender } from '../../src/sidecar/senders.js';

/** Counts turns of the event loop while it runs: what a sender does between two turns blocks every request. */
class TurnCounter {
  turn = 0;
  private running = true;
  constructor() {
    const tick = (): void => {
      if (!this.running) return;
      this.turn += 1;
      setImmediate(tick);
    };
    setImmediate(tick);
  }
  stop(): void {
    this.running = false;
  }
}

/**
 * The part of EventHubProducerClient the sender uses, recording batches; a batch holds `capacity`
 * events, and none for which `fits` says false.
 */
function fakeProducer(
  capacity: number,
  fits: (body: unknown) => boolean = () => true,
  onAdd: () => void = () => undefined,
) {
  const sent: { partitionKey: string | undefined; bodies: unknown[] }[] = [];
  const producer = {
    createBatch: (options: { partitionKey?: string }) => {
      const bodies: unknown[] = [];
      return Promise.resolve({
        get count() {
          return bodies.length;
        },
        maxSizeInBytes: 1048576,
        tryAdd: (event: { body: unknown }) => {
          onAdd();
          if (bodies.length >= capacity || !fits(event.body)) return false;
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

  it('encodes a large batch over several turns of the event loop, not in one long pause', async () => {
    const turns = new TurnCounter();
    const seen: number[] = [];
    const { producer, sent } = fakeProducer(
      10_000,
      () => true,
      () => seen.push(turns.turn),
    );
    const events = Array.from({ length: 500 }, (_, i) => ({ eventId: `e-${i}` }));
    await new EventHubsSender(producer, 'p').send(events);
    turns.stop();
    expect(sent.flatMap((b) => b.bodies)).toEqual(events);
    // Events of one slice are encoded in one turn; each next slice waits for another turn.
    expect(new Set(seen).size).toBeGreaterThanOrEqual(500 / EVENTS_PER_TURN);
  });

  it('returns an event that fits no batch, even an empty one, as rejected and sends the others in order', async () => {
    const { producer, sent } = fakeProducer(2, (body) => (body as { eventId?: string }).eventId !== 'huge');
    const events = [{ eventId: 'a' }, { eventId: 'b' }, { eventId: 'huge' }, { eventId: 'c' }];
    const result = await new EventHubsSender(producer, 'p').send(events);
    expect(sent.flatMap((b) => b.bodies)).toEqual([{ eventId: 'a' }, { eventId: 'b' }, { eventId: 'c' }]);
    expect(result.rejected).toEqual([
      { event: { eventId: 'huge' }, reason: 'larger than an Event Hubs message can be (1048576 bytes)' },
    ]);
  });

  it('returns an event the client cannot encode as rejected instead of failing the batch', async () => {
    const { producer, sent } = fakeProducer(10, (body) => {
      if ((body as { eventId?: string }).eventId === 'odd') throw new Error('cannot encode');
      return true;
    });
    const result = await new EventHubsSender(producer, 'p').send([{ eventId: 'odd' }, { eventId: 'a' }]);
    expect(sent.flatMap((b) => b.bodies)).toEqual([{ eventId: 'a' }]);
    expect(result.rejected.map((r) => r.reason)).toEqual(['cannot be encoded (cannot encode)']);
  });
});

describe('file sender', () => {
  it('serialises a large batch over several turns of the event loop, in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sink-'));
    const turns = new TurnCounter();
    const seen: number[] = [];
    const events = Array.from({ length: 500 }, (_, i) => ({
      toJSON: () => {
        seen.push(turns.turn);
        return { eventId: `e-${i}` };
      },
    }));
    await new FileSender(dir, 'p', () => new Date('2026-11-22T12:00:00Z')).send(events);
    turns.stop();
    const lines = readFileSync(join(dir, 'usage-p-2026-11-22.ndjson'), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { eventId: string }).eventId)).toEqual(
      Array.from({ length: 500 }, (_, i) => `e-${i}`),
    );
    expect(new Set(seen).size).toBeGreaterThanOrEqual(500 / EVENTS_PER_TURN);
  });

  it('appends NDJSON per pod and UTC day, with an unsafe pod name made safe', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sink-'));
    const sender = new FileSender(dir, 'pod/../x', () => new Date('2026-11-22T23:59:59Z'));
    await sender.send([{ a: 1 }]);
    await sender.send([{ a: 2 }]);
    expect(readdirSync(dir)).toEqual(['usage-pod_.._x-2026-11-22.ndjson']);
    expect(readFileSync(join(dir, 'usage-pod_.._x-2026-11-22.ndjson'), 'utf8')).toBe('{"a":1}\n{"a":2}\n');
  });
});
