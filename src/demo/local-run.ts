/**
 * `npm start`: the main job, locally. Simulates yesterday's traffic of a vLLM fleet (with Event
 * Hubs-style redeliveries and a few broken lines), runs the daily chargeback over it, and prints
 * the top features by cost and the reconciliation a finance reader checks first.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Papa from 'papaparse';
import { DEFAULT_WEIGHTING } from '../domain/weighting.js';
import { runReport } from '../cli/report-command.js';
import { runSimulate } from '../cli/simulate-command.js';

const root = new URL('../../..', import.meta.url).pathname;
const out = join(root, 'out');
const date = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

const HOSTILE_LINES = [
  '{"type":"usage","schemaVersion":1,"eventId":"broken',
  JSON.stringify({ type: 'usage', schemaVersion: 1, eventId: 'neg-tokens', promptTokens: -5 }),
  JSON.stringify({
    type: 'capacity',
    schemaVersion: 1,
    eventId: 'unknown-sku',
    pod: 'p',
    gpuSku: 'Standard_NC6',
    gpuCount: 1,
    model: 'm',
    windowStart: `${date}T00:00:00.000Z`,
    windowEnd: `${date}T00:01:00.000Z`,
  }),
];

async function main(): Promise<void> {
  await rm(out, { recursive: true, force: true });
  const eventsDir = join(out, 'events');
  const simulated = await runSimulate({
    date,
    out: join(eventsDir, `fleet-${date}.ndjson`),
    pods: 8,
    seed: 1,
    requests: 150_000,
    duplicateRate: 0.01,
  });
  await writeFile(join(eventsDir, 'hostile.ndjson'), `${HOSTILE_LINES.join('\n')}\n`);
  console.log(
    `simulated ${simulated.events} events for ${date} (1% delivered twice) plus ${HOSTILE_LINES.length} broken lines`,
  );

  const outcome = await runReport({
    eventsPath: eventsDir,
    pricesPath: join(root, 'prices', 'azure-a100.json'),
    date,
    outDir: join(out, 'reports'),
    idle: 'separate',
    weighting: DEFAULT_WEIGHTING,
  });
  const summary = JSON.parse(await readFile(outcome.summaryPath, 'utf8')) as Record<string, number>;
  const rows = Papa.parse<Record<string, string>>(await readFile(outcome.csvPath, 'utf8'), {
    header: true,
    skipEmptyLines: true,
  }).data;

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
  console.log(
    `\nReport: ${outcome.csvPath}\nSummary: ${outcome.summaryPath}\nRejected lines: ${outcome.rejectedPath}`,
  );
}

await main();
