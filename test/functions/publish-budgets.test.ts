import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import { InvocationContext, TIMER } from '../../dev/functions-runtime.js';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { makePublishBudgets } from '../../functions/publishBudgets.js';
import { ingestDeps, publishBudgetsDeps } from '../../src/composition/composition.js';
import { parseBudgetState } from '../../src/domain/budgets/state.js';
import { budgetServices, isolatedServices } from '../helpers/storage.js';

describe('publishBudgets on Azurite', () => {
  it('turns what ingestUsage accepted into the state blob the sidecars read', async () => {
    const now = () => new Date('2026-11-22T12:00:00Z');
    const { services: s, stateContainer: container } = await budgetServices(
      { budgets: [{ scope: { tenant: 'acme' }, period: 'day', limit: { usd: 0.01 }, policy: 'refuse' }] },
      now,
    );
    // 10 s on one A100 of Standard_NC24ads_A100_v4 is about $0.01.
    const event = {
      type: 'usage',
      schemaVersion: 1,
      eventId: randomUUID(),
      requestId: 'r-1',
      tenant: 'acme',
      feature: 'chat',
      model: 'llama',
      requestClass: 'interactive',
      pod: 'vllm-0',
      gpuSku: 'Standard_NC24ads_A100_v4',
      gpuCount: 1,
      startedAt: '2026-11-22T11:00:00Z',
      firstTokenAt: null,
      finishedAt: '2026-11-22T11:00:20Z',
      promptTokens: 10,
      completionTokens: 10,
      status: 'ok',
    };
    const context = new InvocationContext({
      logHandler: () => undefined,
      triggerMetadata: {
        partitionContext: { partitionId: '0' },
        sequenceNumberArray: [1],
        enqueuedTimeUtcArray: ['2026-11-22T11:00:21Z'],
      },
    });
    await makeIngestUsage(() => Promise.resolve(ingestDeps(s)))([JSON.stringify(event)], context);
    await makePublishBudgets(() => Promise.resolve(publishBudgetsDeps(s)))(TIMER, context);
    const blob = BlobServiceClient.fromConnectionString(inject('azurite'))
      .getContainerClient(container)
      .getBlockBlobClient('state.json');
    const state = parseBudgetState((await blob.downloadToBuffer()).toString('utf8'));
    expect(state.generatedAt).toBe('2026-11-22T12:00:00.000Z');
    expect(state.entries[0]).toMatchObject({
      scope: { tenant: 'acme' },
      periodName: '2026-11-22',
      over: true,
    });
    expect(state.entries[0]?.spentUsd).toBeGreaterThan(0.01);
  }, 60_000);

  it('does nothing without BUDGETS_PATH', async () => {
    const s = await isolatedServices(inject('azurite'));
    expect(publishBudgetsDeps(s)).toBeUndefined();
    expect(ingestDeps(s)).not.toHaveProperty('budgets');
  });
});
