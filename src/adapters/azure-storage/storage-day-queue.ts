import type { QueueClient } from '@azure/storage-queue';
import type { DayMessage, DayQueue } from '../../ports/day-queue.js';

// A storage queue message lives at most 7 days by default; a day not reported by then is still
// marked dirty in the ledger and queued again by the next daily run, so the default is kept.
const SEND_CONCURRENCY = 8;

/**
 * The day queue on an Azure Storage queue. Messages are JSON, base64-encoded: the Functions queue
 * trigger decodes base64 by default (host.json `extensions.queues.messageEncoding`).
 */
export class StorageDayQueue implements DayQueue {
  constructor(private readonly queue: QueueClient) {}

  /** Creates the queue when it does not exist yet (the host creates `<name>-poison` itself). */
  async ensure(): Promise<void> {
    await this.queue.createIfNotExists();
  }

  async enqueue(messages: readonly DayMessage[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < messages.length) {
        const message = messages[next++];
        if (message !== undefined) await this.queue.sendMessage(encodeDayMessage(message));
      }
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, messages.length) }, worker));
  }
}

export function encodeDayMessage(message: DayMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}
