/**
 * `npm start`: the main job, end to end on this machine. Starts Azurite from node_modules, simulates
 * yesterday's traffic of a vLLM fleet, delivers it through Event Hubs-like partitions and batches
 * (some delivered twice) to the real `ingestUsage` handler, runs `dailyChargeback`, works its day
 * queue off through the real `reportDay` handler as the Functions host would, fetches the
 * report through the `getReport` HTTP handler, writes it under out/, prints the top features and
 * the reconciliation, and shuts everything down.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Papa from 'papaparse';
import { makeDailyChargeback } from '../functions/dailyChargeback.js';
import { makeGetReport } from '../functions/getReport.js';
import { makeIngestUsage } from '../functions/ingestUsage.js';
import { dayOfMs, previousDay } from '../src/domain/days.js';
import { makeReportDay } from '../functions/reportDay.js';
import { loadConfig } from '../src/composition/config.js';
import {
  createServices,
  dailyDeps,
  ingestDeps,
  planDeps,
  storageClients,
} from '../src/composition/composition.js';
import { startAzurite } from './azurite.js';
import { drainQueue } from './queue-delivery.js';
import { fleetTraffic } from './fleet-traffic.js';
import { HttpRequest, quietContext, TIMER } from './functions-runtime.js';

const root = new URL('../..', import.meta.url).pathname;
const out = join(root, 'out');
const date = previousDay(dayOfMs(Date.now()));

async function main(): Promise<void> {
  const started = Date.now();
  const seconds = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  await rm(out, { recursive: true, force: true });
  const azurite = await startAzurite();
  try {
    console.log(
      `Azurite on 127.0.0.1:${azurite.blobPort} (blob), :${azurite.tablePort} (table) and :${azurite.queuePort} (queue), in memory`,
    );
    const s = await createServices(
      loadConfig({ LEDGER_STORAGE_CONNECTION_STRING: azurite.connectionString }),
    );

    const traffic = fleetTraffic({
      date,
      pods: 8,
      seed: 1,
      requests: 100_000,
      duplicateRate: 0.01,
      partitions: 4,
    });
    console.log(
      `simulated ${traffic.events} events of ${date} (1% sent twice by the sidecars) + ${traffic.hostile} broken messages, on 4 partitions`,
    );

    const ingest = makeIngestUsage(() => Promise.resolve(ingestDeps(s, 60_000)));
    const delivery = await traffic.hub.deliver(ingest, {
      partitions: 4,
      maxBatch: 1000,
      redeliveryRate: 0.05,
      seed: 1,
    });
    console.log(
      `ingestUsage: ${delivery.messages} messages in ${delivery.invocations} batches (${delivery.redelivered} redelivered) [${seconds()}]`,
    );

    const daily = makeDailyChargeback(() => Promise.resolve(planDeps(s)));
    await daily(TIMER, quietContext());
    const queues = storageClients(s.config).queues;
    const days = await drainQueue(
      queues.getQueueClient(s.config.restateQueue),
      queues.getQueueClient(`${s.config.restateQueue}-poison`),
      makeReportDay(() => Promise.resolve(dailyDeps(s))),
    );
    console.log(
      `dailyChargeback queued the days with events; reportDay reported ${days.succeeded} of them, ${date} among them [${seconds()}]`,
    );

    const getReport = makeGetReport(() => Promise.resolve({ reports: s.reports }));
    const fetch = async (accept: string): Promise<string> => {
      const response = await getReport(
        new HttpRequest({
          method: 'GET',
          url: `http://localhost/api/reports/${date}`,
          params: { date },
          headers: { accept },
        }),
        quietContext(),
      );
      if (response.status !== 200) throw new Error(`GET /api/reports/${date}: ${response.status}`);
      if (typeof response.body !== 'string') throw new Error(`GET /api/reports/${date}: no text body`);
      return response.body;
    };
    const csv = await fetch('text/csv');
    const summaryText = await fetch('application/json');
    await mkdir(join(out, 'reports'), { recursive: true });
    const csvPath = join(out, 'reports', `chargeback-${date}.csv`);
    const summaryPath = join(out, 'reports', `summary-${date}.json`);
    await writeFile(csvPath, csv);
    await writeFile(summaryPath, summaryText);
    print(csv, JSON.parse(summaryText) as Record<string, number>);
    console.log(`\nReport: ${csvPath}\nSummary: ${summaryPath}\nDone in ${seconds()}.`);
  } finally {
    await azurite.stop();
  }
}

function print(csv: string, summary: Record<string, number>): void {
  const rows = Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: true }).data;
  const byFeature = new Map<string, { cost: number; requests: number; tokens: number }>();
  for (const row of rows) {
    const key = row.tenant === '(idle)' ? '(idle GPU-time)' : (row.feature ?? '');
    const totals = byFeature.get(key) ?? { cost: 0, requests: 0, tokens: 0 };
    totals.cost += Number(row.costUsd);
    totals.requests += Number(row.requests);
    totals.tokens += Number(row.promptTokens || 0) + Number(row.completionTokens || 0);
    byFeature.set(key, totals);
  }
  console.log(`\nTop features by GPU cost on ${date} (USD):`);
  const top = [...byFeature.entries()].sort((a, b) => b[1].cost - a[1].cost).slice(0, 8);
  for (const [feature, totals] of top) {
    const perK = totals.tokens > 0 ? `  $${((totals.cost / totals.tokens) * 1000).toFixed(4)}/1k tokens` : '';
    console.log(
      `  ${feature.padEnd(22)} ${totals.cost.toFixed(2).padStart(10)}  ${String(totals.requests).padStart(7)} requests${perK}`,
    );
  }
  const f = (n: number | undefined): string => (n ?? 0).toFixed(2);
  console.log(
    `\nReconciliation: fleet ${f(summary.fleetCostUsd)} = allocated ${f(summary.allocatedCostUsd)} + idle ${f(summary.idleCostUsd)}` +
      ` (CSV rows add up to ${f(summary.csvCostTotalUsd)}, difference ${summary.closureDifferenceUsd ?? 0})`,
  );
  console.log(
    `Events: ${summary.eventsRead} read = ${summary.usageEvents} usage + ${summary.capacityEvents} capacity + ` +
      `${summary.duplicatesDropped} duplicates + ${summary.rejected} rejected; ${summary.unmeteredRequests} unmetered requests`,
  );
}

await main();
