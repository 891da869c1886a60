import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { BlobBudgetState, TableBudgetSpend } from '../src/adapters/azure-storage/table-budget-spend.js';
import { MemoryLedger } from '../src/adapters/memory/memory-ledger.js';
import { TeamsNotifier } from '../src/adapters/teams/teams-notifier.js';
import { parseBudgets } from '../src/domain/budgets/budgets.js';
import { loadPriceCard } from '../src/domain/prices.js';
import { SidecarMetrics } from '../src/sidecar/metrics.js';
import { createProxy } from '../src/sidecar/proxy.js';
import { BudgetStateReader, blobReader } from '../src/sidecar/spend-budgets.js';
import { publishBudgets } from '../src/usecases/budgets/publish-budgets.js';
import { ingestBatch, type DeliveredMessage } from '../src/usecases/ingest/ingest.js';
import { FakeVllm } from './fake-vllm.js';
import { SIDECAR_PRIORITIES, SIDECAR_RULES } from './metered-pod.js';

export interface BudgetDemoResult {
  readonly served: number;
  /** The 429 body the first refused request got. */
  readonly refusal: string | undefined;
  readonly cards: readonly string[];
}

/**
 * One budget crossed, end to end on Azurite: tenant `contoso` has $0.05 a day (refuse, cards at
 * 80% and 100%); a sidecar in front of a fake vLLM serves its requests (each made to have held its
 * A100 for 10 s, about $0.01), ingest adds their spend, the publisher writes the state blob and
 * posts the cards to `teamsUrl`, and the sidecar, reading the blob, refuses the next request with
 * the 429 of contracts.md §14. `log` gets one line per step.
 */
export async function budgetDemo(
  azuriteConnectionString: string,
  teamsUrl: string,
  log: (line: string) => void,
): Promise<BudgetDemoResult> {
  const id = randomUUID().slice(0, 8);
  const budgets = parseBudgets({
    budgets: [
      {
        scope: { tenant: 'contoso' },
        period: 'day',
        limit: { usd: 0.05 },
        policy: 'refuse',
        thresholds: [0.8, 1],
      },
    ],
  });
  const prices = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')) as unknown);
  const container = BlobServiceClient.fromConnectionString(azuriteConnectionString).getContainerClient(
    `budget-state-${id}`,
  );
  // The demo reads the blob anonymously, standing in for the pods' Storage Blob Data Reader role.
  await container.create({ access: 'blob' });
  const sink = new BlobBudgetState(container);
  const spend = new TableBudgetSpend(
    TableClient.fromConnectionString(azuriteConnectionString, `budgetspend${id}`, {
      allowInsecureConnection: true,
    }),
  );
  const notifier = new TeamsNotifier({ url: teamsUrl });
  const reader = new BudgetStateReader({
    read: blobReader(new URL(container.getBlockBlobClient('state.json').url)),
    refreshMs: 60_000,
    log,
  });
  const vllm = new FakeVllm();
  const upstream = await vllm.start();
  const events: Record<string, unknown>[] = [];
  const proxy = createProxy({
    upstream,
    rules: SIDECAR_RULES,
    priorities: SIDECAR_PRIORITIES,
    identity: { pod: 'vllm-demo-0', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1, model: 'demo-model' },
    emit: (e) => events.push(e),
    metrics: new SidecarMetrics(),
    budgets: reader,
  });
  await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
  const address = proxy.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  const ledger = new MemoryLedger();
  const now = () => new Date();
  const cards: string[] = [];
  let served = 0;
  let refusal: string | undefined;
  let sequence = 0;
  try {
    for (let i = 0; i < 20 && refusal === undefined; i += 1) {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant': 'contoso', 'x-feature': 'chat' },
        body: JSON.stringify({ model: 'demo-model', messages: [{ role: 'user', content: 'hello' }] }),
      });
      const text = await res.text();
      if (res.status === 429) {
        refusal = text;
        log(`request ${i + 1}: 429, Retry-After ${res.headers.get('retry-after') ?? '?'} s: ${text}`);
        break;
      }
      served += 1;
      const fresh = events.splice(0);
      const messages: DeliveredMessage[] = fresh.map((e) => {
        const finishedAt = new Date(Date.parse(String(e.startedAt)) + 10_000).toISOString();
        return {
          body: JSON.stringify({ ...e, finishedAt, firstTokenAt: null, queueMs: 0 }),
          partition: '0',
          sequenceNumber: sequence++,
          enqueuedTime: finishedAt,
        };
      });
      await ingestBatch(messages, { ledger, prices, now, budgets: { file: budgets, spend } });
      const published = await publishBudgets({ budgets, spend, sink, notifier, now, log });
      cards.push(...published.cards);
      const e = published.state.entries[0];
      log(
        `request ${i + 1}: served; contoso has spent $${(e?.spentUsd ?? 0).toFixed(4)} of $0.05${published.cards.length > 0 ? `, card posted: ${published.cards.join(', ')}` : ''}`,
      );
      await reader.refresh();
    }
  } finally {
    proxy.server.closeAllConnections();
    proxy.server.close();
    await proxy.close();
    await vllm.stop();
  }
  return { served, refusal, cards };
}
