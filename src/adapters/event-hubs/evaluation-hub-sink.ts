/**
 * Sends a harness run's evaluation event to the `evaluations` hub (contracts.md §13), with the
 * Event Hubs client the sidecar uses (src/sidecar/senders.ts): a connection string, or the
 * namespace with DefaultAzureCredential (workload identity on AKS, a service principal in CI).
 * The model is the partition key, so one model's evaluations stay in order. This boundary cannot
 * run without Event Hubs; tests stop at the EvaluationSink port.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { DefaultAzureCredential } from '@azure/identity';
import type { EvaluationSink } from '../../ports/evaluation-sink.js';

export type EvaluationHub =
  | { readonly kind: 'connection-string'; readonly connectionString: string; readonly name: string }
  | { readonly kind: 'identity'; readonly namespace: string; readonly name: string };

export class EvaluationHubSink implements EvaluationSink {
  constructor(private readonly producer: EventHubProducerClient) {}

  static connect(hub: EvaluationHub): EvaluationHubSink {
    const producer =
      hub.kind === 'connection-string'
        ? new EventHubProducerClient(hub.connectionString, hub.name)
        : new EventHubProducerClient(hub.namespace, hub.name, new DefaultAzureCredential());
    return new EvaluationHubSink(producer);
  }

  async send(event: Record<string, unknown>): Promise<void> {
    const model = typeof event.model === 'string' ? event.model : undefined;
    const batch = await this.producer.createBatch(model === undefined ? {} : { partitionKey: model });
    if (!batch.tryAdd({ body: event, contentType: 'application/json' }))
      throw new Error(
        `the evaluation event is larger than an Event Hubs message can be (${batch.maxSizeInBytes} bytes)`,
      );
    await this.producer.sendBatch(batch);
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}
