import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { EventHubProducerClient, type EventDataBatch } from '@azure/event-hubs';
import { DefaultAzureCredential } from '@azure/identity';
import { dayOfMs } from '../domain/days.js';
import type { Unsendable } from './event-limits.js';
import type { Sender, SendResult } from './pipe.js';
import type { SidecarSettings } from './settings.js';

/**
 * Events serialised between two turns of the event loop. A batch of 500 takes a few milliseconds
 * to encode; done in one go that is a pause every request arriving meanwhile waits out (it was
 * most of the sidecar's p99 at 1,000 requests/s). In slices of 50 the longest pause is a fraction
 * of a millisecond.
 */
export const EVENTS_PER_TURN = 50;

/**
 * Sends to Event Hubs with the pod as partition key (contracts.md §1: a pod's events stay in order in one
 * partition). Credentials: DefaultAzureCredential (workload identity on AKS) or a connection string.
 */
export class EventHubsSender implements Sender {
  constructor(
    private readonly producer: EventHubProducerClient,
    private readonly partitionKey: string,
  ) {}

  static fromSettings(settings: SidecarSettings): EventHubsSender {
    const hub = settings.eventHub;
    if (hub === undefined) throw new Error('Event Hubs is not configured');
    const producer =
      hub.kind === 'connection-string'
        ? new EventHubProducerClient(hub.connectionString, hub.name)
        : new EventHubProducerClient(hub.namespace, hub.name, new DefaultAzureCredential());
    return new EventHubsSender(producer, settings.pod);
  }

  async send(events: readonly Record<string, unknown>[]): Promise<SendResult> {
    const rejected: Unsendable[] = [];
    let batch = await this.producer.createBatch({ partitionKey: this.partitionKey });
    for (const [i, event] of events.entries()) {
      if (i > 0 && i % EVENTS_PER_TURN === 0) await nextTurn();
      const added = tryAdd(batch, event);
      if (added === true) continue;
      if (added === false && batch.count > 0) {
        // Full (1 MB): send it and start another.
        await this.producer.sendBatch(batch);
        batch = await this.producer.createBatch({ partitionKey: this.partitionKey });
        if (tryAdd(batch, event) === true) continue;
      }
      // Not even an empty batch takes it: no retry ever will. Returned, so the pipe sets it aside
      // instead of failing the batch again and again with every later event behind it.
      const reason =
        typeof added === 'string'
          ? added
          : `larger than an Event Hubs message can be (${batch.maxSizeInBytes} bytes)`;
      rejected.push({ event, reason });
    }
    if (batch.count > 0) await this.producer.sendBatch(batch);
    return { rejected };
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

/** True when the batch took the event, false when it is full, the reason when the event cannot be encoded. */
function tryAdd(batch: EventDataBatch, event: Record<string, unknown>): boolean | string {
  try {
    return batch.tryAdd({ body: event, contentType: 'application/json' });
  } catch (error) {
    return `cannot be encoded (${(error as Error).message})`;
  }
}

/** `--sink file:DIR`: the same events as NDJSON files, one per pod and UTC day (the CLI reads them). */
export class FileSender implements Sender {
  constructor(
    private readonly dir: string,
    private readonly pod: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async send(events: readonly Record<string, unknown>[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const day = dayOfMs(this.now().getTime());
    const safePod = this.pod.replace(/[^A-Za-z0-9._-]/g, '_');
    const parts: string[] = [];
    for (let i = 0; i < events.length; i += EVENTS_PER_TURN) {
      if (i > 0) await nextTurn();
      parts.push(
        events
          .slice(i, i + EVENTS_PER_TURN)
          .map((e) => `${JSON.stringify(e)}\n`)
          .join(''),
      );
    }
    await appendFile(join(this.dir, `usage-${safePod}-${day}.ndjson`), parts.join(''));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
