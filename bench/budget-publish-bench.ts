/**
 * The budget publisher's cost late in a month: B month budgets (one scope each), every closed day
 * of the month with its exact figure and its estimate in the spend table, and one publish of the
 * state document timed and its Table requests counted, on Azurite. The publisher runs on a timer
 * every few seconds (docs/budgets.md), so a publish must take well under that interval whatever the
 * number of budgets. Run: `node --import tsx bench/budget-publish-bench.ts [budgets] [days]`.
 */
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../dev/azurite.js';
import { BlobBudgetState, TableBudgetSpend } from '../src/adapters/azure-storage/table-budget-spend.js';
import { parseBudgets } from '../src/domain/budgets/budgets.js';
import type { SpendAddition } from '../src/ports/budget-spend.js';
import { publishBudgets } from '../src/usecases/budgets/publish-budgets.js';

const budgetsCount = Number(process.argv[2] ?? 200);
// November has 30 days: at most 29 closed before the publish, on the 30th.
const days = Math.min(29, Number(process.argv[3] ?? 29));
const MONTH = '2026-11';

async function main(): Promise<void> {
  const azurite = await startAzurite();
  try {
    const table = TableClient.fromConnectionString(azurite.connectionString, 'budgetspendbench', {
      allowInsecureConnection: true,
    });
    let requests = 0;
    table.pipeline.addPolicy({
      name: 'count',
      sendRequest: (request, next) => {
        requests += 1;
        return next(request);
      },
    });
    const spend = new TableBudgetSpend(table);
    const budgets = parseBudgets({
      budgets: Array.from({ length: budgetsCount }, (_, i) => ({
        scope: { tenant: `tenant-${i}` },
        period: 'month',
        limit: { usd: 1000 },
        policy: 'alert',
        thresholds: [0.8, 1],
      })),
    });
    const sink = new BlobBudgetState(
      BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('budget-state'),
    );
    // The month so far: each scope's running figure, each closed day's estimate and exact figure.
    const started = Date.now();
    for (const b of budgets.budgets) {
      const additions: SpendAddition[] = [
        { key: b.key, period: 'month', periodName: MONTH, nanos: 1e9 * days, gpuMicros: 0 },
      ];
      for (let d = 1; d <= days; d += 1) {
        const day = `${MONTH}-${String(d).padStart(2, '0')}`;
        additions.push({ key: b.key, period: 'day', periodName: day, nanos: 1e9, gpuMicros: 0 });
        await spend.setExact(day, b.key, { nanos: 0.9e9, gpuMicros: 0 });
      }
      await spend.add('seed', additions);
    }
    console.log(
      `seeded ${budgetsCount} month budgets x ${days} closed days in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const now = () => new Date(`${MONTH}-${String(days + 1).padStart(2, '0')}T12:00:00Z`);
    for (const run of [1, 2, 3]) {
      requests = 0;
      const t0 = performance.now();
      const published = await publishBudgets({ budgets, spend, sink, now });
      const ms = performance.now() - t0;
      const spent = published.state.entries[0]?.spentUsd;
      console.log(
        `publish ${run}: ${ms.toFixed(0)} ms, ${requests} Table requests, ${published.state.entries.length} entries (first spent $${String(spent)})`,
      );
    }
  } finally {
    await azurite.stop();
  }
}

await main();
