import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InvocationContext as Context } from '@azure/functions';
import type { QueueClient } from '@azure/storage-queue';
import { InvocationContext } from './functions-runtime.js';

/** The queue settings of host.json that decide delivery: read from the file, so the harness follows it. */
export function hostQueueSettings(): { maxDequeueCount: number; batchSize: number } {
  // The package root: dev/ from source, dist/dev/ when built.
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'host.json')) && dirname(root) !== root) root = dirname(root);
  const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8')) as {
    extensions?: { queues?: { maxDequeueCount?: number; batchSize?: number } };
  };
  const queues = host.extensions?.queues ?? {};
  return { maxDequeueCount: queues.maxDequeueCount ?? 5, batchSize: queues.batchSize ?? 16 };
}

export interface QueueDelivery {
  /** Handler invocations, retries included. */
  readonly invocations: number;
  readonly succeeded: number;
  /** Messages moved to `<queue>-poison` after maxDequeueCount failed tries. */
  readonly poisoned: number;
}

type QueueHandler = (message: unknown, context: Context) => Promise<void>;

/**
 * Works a storage queue off as the Functions host does, until it is empty: takes up to `batchSize`
 * messages, decodes base64, hands JSON over parsed (other text as a string) with the dequeue count
 * in the trigger metadata, deletes a message its handler finished, makes a failed one visible
 * again, and moves it to `<queue>-poison` once it has failed `maxDequeueCount` times.
 */
export async function drainQueue(
  queue: QueueClient,
  poison: QueueClient,
  handler: QueueHandler,
  settings = hostQueueSettings(),
): Promise<QueueDelivery> {
  let invocations = 0;
  let succeeded = 0;
  let poisoned = 0;
  for (;;) {
    const { receivedMessageItems: items } = await queue.receiveMessages({
      numberOfMessages: Math.min(32, settings.batchSize),
      visibilityTimeout: 300,
    });
    if (items.length === 0) return { invocations, succeeded, poisoned };
    await Promise.all(
      items.map(async (item) => {
        const text = Buffer.from(item.messageText, 'base64').toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: the host passes the text
        }
        const context = new InvocationContext({
          functionName: 'queue',
          logHandler: () => undefined,
          triggerMetadata: { id: item.messageId, dequeueCount: item.dequeueCount },
        });
        invocations += 1;
        try {
          await handler(body, context);
          succeeded += 1;
          await queue.deleteMessage(item.messageId, item.popReceipt);
        } catch {
          if (item.dequeueCount >= settings.maxDequeueCount) {
            poisoned += 1;
            await poison.createIfNotExists();
            await poison.sendMessage(item.messageText);
            await queue.deleteMessage(item.messageId, item.popReceipt);
          } else {
            await queue.updateMessage(item.messageId, item.popReceipt, undefined, 0);
          }
        }
      }),
    );
  }
}
