import { ConfigurationError } from '../../domain/errors.js';
import type { DeliveredMessage } from './ingest.js';

/**
 * Pairs each message of an Event Hubs batch (`cardinality: 'many'`) with its partition, sequence
 * number and enqueued time from the trigger metadata (`partitionContext`, `sequenceNumberArray`,
 * `enqueuedTimeUtcArray`). Without them exactly-once is impossible, so their absence is a
 * configuration error (a trigger bound with `cardinality: 'one'`, or not an Event Hubs trigger).
 */
export function deliveredMessages(
  messages: unknown,
  metadata: Record<string, unknown> | undefined,
): DeliveredMessage[] {
  if (!Array.isArray(messages))
    throw new ConfigurationError('ingestUsage must be bound with cardinality "many"');
  const context = metadata?.partitionContext as { partitionId?: unknown } | undefined;
  const partition = context?.partitionId;
  const sequences = metadata?.sequenceNumberArray;
  const enqueued = metadata?.enqueuedTimeUtcArray;
  if (typeof partition !== 'string' || partition === '')
    throw new ConfigurationError('trigger metadata: partitionContext.partitionId is missing');
  if (!Array.isArray(sequences) || sequences.length !== messages.length)
    throw new ConfigurationError(
      'trigger metadata: sequenceNumberArray is missing or does not match the batch',
    );
  if (!Array.isArray(enqueued) || enqueued.length !== messages.length)
    throw new ConfigurationError(
      'trigger metadata: enqueuedTimeUtcArray is missing or does not match the batch',
    );
  return messages.map((body: unknown, i) => {
    const sequenceNumber = Number(sequences[i]);
    if (!Number.isSafeInteger(sequenceNumber) || sequenceNumber < 0)
      throw new ConfigurationError(
        `trigger metadata: sequence number ${String(sequences[i])} is not an integer`,
      );
    const time = enqueued[i] instanceof Date ? enqueued[i] : new Date(String(enqueued[i]));
    if (Number.isNaN(time.getTime()))
      throw new ConfigurationError(`trigger metadata: enqueued time ${String(enqueued[i])} is not a time`);
    return { body, partition, sequenceNumber, enqueuedTime: time.toISOString() };
  });
}

/**
 * Seconds between the oldest message of a batch entering Event Hubs and `now`: how far ingestion
 * is behind the sidecars. Logged with each batch; the ingest-lag alert in bicep/ reads it.
 */
export function ingestLagSeconds(delivered: readonly DeliveredMessage[], now: Date): number | undefined {
  let oldest = Infinity;
  for (const m of delivered) oldest = Math.min(oldest, Date.parse(m.enqueuedTime));
  if (!Number.isFinite(oldest)) return undefined;
  return Math.max(0, Math.round((now.getTime() - oldest) / 1000));
}
