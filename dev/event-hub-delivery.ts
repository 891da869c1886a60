import { createHash } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import { InvocationContext as Context } from './functions-runtime.js';
import { Random } from '../src/simulator/random.js';

/** An event as it sits in an Event Hubs partition. */
export interface HubMessage {
  readonly body: unknown;
  readonly sequenceNumber: number;
  readonly enqueuedTime: string;
}

export type Handler = (messages: unknown, context: InvocationContext) => Promise<void>;

export interface DeliveryOptions {
  readonly partitions: number;
  readonly maxBatch: number;
  /** Fraction of batches delivered a second time, from an earlier checkpoint, as after a host restart. */
  readonly redeliveryRate: number;
  readonly seed: number;
}

export interface DeliveryStats {
  messages: number;
  invocations: number;
  redelivered: number;
}

/**
 * Stands in for Event Hubs and the Functions host, which cannot run here: bodies are spread over
 * partitions by partition key (the pod, contracts.md §1), numbered in each partition, and handed to the
 * real trigger handler in batches with the trigger metadata the host supplies. Some batches are
 * delivered again from an earlier point, with other boundaries, as the host does after a restart.
 */
export class EventHubPartitions {
  readonly partitions: HubMessage[][];

  constructor(count: number) {
    this.partitions = Array.from({ length: count }, () => []);
  }

  /** Appends a message to the partition its key hashes to (any stable hash will do here). */
  send(body: unknown, partitionKey: string, enqueuedTime: string): void {
    const index = createHash('md5').update(partitionKey).digest().readUInt32BE(0) % this.partitions.length;
    const partition = this.partitions[index];
    if (partition === undefined) throw new Error('no partitions');
    partition.push({ body, sequenceNumber: partition.length, enqueuedTime });
  }

  /**
   * Appends events sent later in the day and delivers only them, one batch per partition, as the
   * trigger gets them from a live hub; returns how many were delivered.
   */
  async publish(
    handler: Handler,
    messages: readonly { body: unknown; partitionKey: string; enqueuedTime: string }[],
  ): Promise<number> {
    const from = this.partitions.map((p) => p.length);
    for (const m of messages) this.send(m.body, m.partitionKey, m.enqueuedTime);
    for (const [index, partition] of this.partitions.entries()) {
      const fresh = partition.slice(from[index]);
      if (fresh.length > 0) await invoke(handler, String(index), fresh);
    }
    return messages.length;
  }

  /** Delivers every partition to the handler, partitions in parallel and each in order. */
  async deliver(handler: Handler, options: DeliveryOptions): Promise<DeliveryStats> {
    const stats: DeliveryStats = { messages: 0, invocations: 0, redelivered: 0 };
    await Promise.all(
      this.partitions.map(async (messages, index) => {
        const random = new Random(options.seed, 7000 + index);
        let position = 0;
        while (position < messages.length) {
          const size = 1 + random.below(options.maxBatch);
          const batch = messages.slice(position, position + size);
          await invoke(handler, String(index), batch);
          stats.invocations += 1;
          stats.messages += batch.length;
          if (random.next() < options.redeliveryRate) {
            // The checkpoint was somewhere before this batch: everything since is delivered again.
            const from = Math.max(0, position - random.below(options.maxBatch));
            const again = messages.slice(from, position + batch.length);
            await invoke(handler, String(index), again);
            stats.invocations += 1;
            stats.messages += again.length;
            stats.redelivered += again.length;
          }
          position += batch.length;
        }
      }),
    );
    return stats;
  }
}

/** Calls the handler the way the Functions host does for an Event Hubs trigger with cardinality "many". */
export async function invoke(
  handler: Handler,
  partitionId: string,
  batch: readonly HubMessage[],
  log: (line: string) => void = () => undefined,
): Promise<void> {
  const context = new Context({
    functionName: 'ingestUsage',
    logHandler: (_level, ...args: unknown[]) => {
      log(args.map(String).join(' '));
    },
    triggerMetadata: {
      partitionContext: { partitionId, eventHubName: 'usage', consumerGroup: 'chargeback' },
      sequenceNumberArray: batch.map((m) => m.sequenceNumber),
      enqueuedTimeUtcArray: batch.map((m) => m.enqueuedTime),
    },
  });
  await handler(
    batch.map((m) => m.body),
    context,
  );
}
