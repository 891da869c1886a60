import { app, type InvocationContext } from '@azure/functions';
import { qualityDeps, services } from '../src/composition/composition.js';
import { bindingExpression, CONNECTIONS } from '../src/composition/settings.js';
import { retrying } from '../src/usecases/retry.js';
import { deliveredMessages } from '../src/usecases/ingest/trigger-metadata.js';
import { ingestEvaluations, type QualityDeps } from '../src/usecases/quality/evaluate.js';

/**
 * Event Hubs `evaluations` -> evaluation history -> each touched model's gate (contracts.md §10), and, for a
 * gate failed on quality, at most one retraining job (src/usecases/quality/retrain.ts). A bad message
 * becomes a dead letter and never fails the batch; a storage or Azure ML outage is retried here and
 * then by the host, and the whole batch is idempotent (history keyed by eventId, jobs by name).
 */
export function makeEvaluateQuality(deps: () => Promise<QualityDeps>) {
  return async function evaluateQuality(messages: unknown, context: InvocationContext): Promise<void> {
    const delivered = deliveredMessages(messages, context.triggerMetadata);
    const d = await deps();
    const { counts, models } = await retrying(() => ingestEvaluations(delivered, d), {
      deadlineMs: 120_000,
      onRetry: (error, attempt, delayMs) => {
        context.warn(
          `evaluateQuality: attempt ${attempt} failed (${(error as Error).message}); retrying in ${Math.round(delayMs)} ms`,
        );
      },
    });
    const verdicts = Object.fromEntries(
      [...models].map(([model, o]) => [
        model,
        {
          verdict: o.judgement.verdict.verdict,
          reasons: o.judgement.verdict.reasons,
          ...(o.retrain === undefined ? {} : { job: o.retrain.job, retrain: o.retrain.reason }),
        },
      ]),
    );
    context.log(JSON.stringify({ function: 'evaluateQuality', ...counts, verdicts }));
  };
}

export const evaluateQuality = makeEvaluateQuality(async () => qualityDeps(await services()));

app.eventHub('evaluateQuality', {
  connection: CONNECTIONS.evaluationsHub,
  eventHubName: bindingExpression('EVALUATIONS_EVENTHUB_NAME'),
  consumerGroup: bindingExpression('EVALUATIONS_CONSUMER_GROUP'),
  cardinality: 'many',
  // Never checkpoint past a batch whose evaluations are not kept: retry until storage is back.
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: -1,
    minimumInterval: { seconds: 10 },
    maximumInterval: { minutes: 5 },
  },
  handler: evaluateQuality,
});
