import { app, type InvocationContext } from '@azure/functions';
import { retrying } from '../src/usecases/retry.js';
import { ingestDeps, services } from '../src/composition/composition.js';
import { bindingExpression, CONNECTIONS } from '../src/composition/settings.js';
import { ingestBatch, type IngestDeps } from '../src/usecases/ingest/ingest.js';
import { deliveredMessages, ingestLagSeconds } from '../src/usecases/ingest/trigger-metadata.js';

export interface IngestUsageDeps extends IngestDeps {
  /** How long to keep retrying transient storage failures before failing the invocation. */
  readonly retryDeadlineMs: number;
}

/**
 * Event Hubs -> ledger. A bad message never fails the batch (it becomes a dead letter); a storage
 * outage is retried here, then by the host's retry policy below, and the whole batch is idempotent,
 * so whatever the host redelivers, the ledger comes out the same.
 */
export function makeIngestUsage(deps: () => Promise<IngestUsageDeps>) {
  return async function ingestUsage(messages: unknown, context: InvocationContext): Promise<void> {
    const delivered = deliveredMessages(messages, context.triggerMetadata);
    const d = await deps();
    const counts = await retrying(() => ingestBatch(delivered, d), {
      deadlineMs: d.retryDeadlineMs,
      onRetry: (error, attempt, delayMs) => {
        context.warn(
          `ingestUsage: attempt ${attempt} failed (${(error as Error).message}); retrying in ${Math.round(delayMs)} ms`,
        );
      },
    });
    // Sequence numbers that went back (a recreated hub, a failover, a checkpoint moved back): the
    // events were kept, but an operator should know why a partition's numbering restarted.
    for (const regression of counts.regressions) context.warn(`ingestUsage: ${regression}`);
    // One JSON line per batch: the dead-letter and ingest-lag alerts in bicep/modules/alerts.bicep parse it.
    const lagSeconds = ingestLagSeconds(delivered, d.now());
    context.log(
      JSON.stringify({ function: 'ingestUsage', partition: delivered[0]?.partition, ...counts, lagSeconds }),
    );
  };
}

export const ingestUsage = makeIngestUsage(async () => ingestDeps(await services()));

app.eventHub('ingestUsage', {
  // Identity-based: EventHubConnection__fullyQualifiedNamespace (+ __credential, __clientId) in app settings.
  connection: CONNECTIONS.usageHub,
  eventHubName: bindingExpression('USAGE_EVENTHUB_NAME'),
  consumerGroup: bindingExpression('USAGE_CONSUMER_GROUP'),
  cardinality: 'many',
  // Never let the host checkpoint past a batch that is not in the ledger: retry until storage is back.
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: -1,
    minimumInterval: { seconds: 10 },
    maximumInterval: { minutes: 5 },
  },
  handler: ingestUsage,
});
