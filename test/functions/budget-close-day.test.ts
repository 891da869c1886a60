import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvocationContext } from '../../dev/functions-runtime.js';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { dailyDeps, ingestDeps } from '../../src/composition/composition.js';
import { reportDay } from '../../src/usecases/daily/daily-run.js';
import { spendWithExact } from '../../src/usecases/budgets/exact-spend.js';
import { budgetServices } from '../helpers/storage.js';

describe('the reported day replaces the budgets estimate (Azurite, composed as the Function App is)', () => {
  it("puts the report's exact figure for the day in the spend table", async () => {
    const now = () => new Date('2026-11-23T01:00:00Z');
    const { services: s } = await budgetServices(
      { budgets: [{ scope: { tenant: 'acme' }, period: 'month', limit: { usd: 100 }, policy: 'refuse' }] },
      now,
    );
    const event = (i: number) => ({
      type: 'usage',
      schemaVersion: 1,
      eventId: randomUUID(),
      requestId: `r-${i}`,
      tenant: 'acme',
      feature: 'chat',
      model: 'llama',
      requestClass: 'interactive',
      pod: 'vllm-0',
      gpuSku: 'Standard_NC24ads_A100_v4',
      gpuCount: 1,
      startedAt: `2026-11-22T11:0${i}:00Z`,
      firstTokenAt: null,
      finishedAt: `2026-11-22T11:0${i}:20Z`,
      promptTokens: 10,
      completionTokens: 10,
      status: 'ok',
    });
    const context = new InvocationContext({
      logHandler: () => undefined,
      triggerMetadata: {
        partitionContext: { partitionId: '0' },
        sequenceNumberArray: [1, 2],
        enqueuedTimeUtcArray: ['2026-11-22T11:00:21Z', '2026-11-22T11:01:21Z'],
      },
    });
    await makeIngestUsage(() => Promise.resolve(ingestDeps(s)))(
      [JSON.stringify(event(0)), JSON.stringify(event(1))],
      context,
    );
    const budgets = s.budgets;
    const budget = budgets?.file.budgets[0];
    if (budgets === undefined || budget === undefined) throw new Error('budgets not composed');
    const estimate = await budgets.spend.read('day', '2026-11-22', budget.key);
    expect(estimate.nanos).toBeGreaterThan(0);

    await reportDay('2026-11-22', dailyDeps(s));
    const exact = (await budgets.spend.exactDays('2026-11', budget.key)).get('2026-11-22');
    // The day's pod held its GPU for more than the two requests' 40 s: the exact figure (idle
    // spread or not) is the report's, not the estimate.
    expect(exact).toBeDefined();
    expect(exact?.nanos).not.toBe(estimate.nanos);
    expect(await spendWithExact(budgets.spend, budget, '2026-11')).toEqual(exact);
    // Reported again, the figure stays: replaced, not added.
    await reportDay('2026-11-22', dailyDeps(s));
    expect(await spendWithExact(budgets.spend, budget, '2026-11')).toEqual(exact);
  }, 60_000);
});
