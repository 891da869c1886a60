/**
 * `npm start`: the main job, end to end on this machine. Starts Azurite from node_modules, simulates
 * yesterday's traffic of a vLLM fleet, delivers it through Event Hubs-like partitions and batches
 * (some delivered twice) to the real `ingestUsage` handler, runs `dailyChargeback`, works its day
 * queue off through the real `reportDay` handler as the Functions host would, fetches the
 * report through the `getReport` HTTP handler, prints the top features and tenants and the
 * reconciliation. Then drift: 28 days of history made from the day's own metrics (one feature
 * cheaper before, see dev/drift-history/from-day.ts) go into the report store, the day's message is
 * delivered to `reportDay` once more, now with drift, and the cards that reach a Teams stand-in on
 * loopback are printed in short. Every file the daily run stored is then copied to out/reports/
 * (dev/export-reports.ts), so the command line can explore the day. Everything is shut down at the end.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDailyChargeback } from '../functions/dailyChargeback.js';
import { makeGetReport } from '../functions/getReport.js';
import { makeGetRequest } from '../functions/getRequest.js';
import { renderExplanation, topRequests, type Explanation } from '../src/usecases/requests/explain.js';
import { makeIngestUsage } from '../functions/ingestUsage.js';
import { dayOfMs, previousDay } from '../src/domain/days.js';
import { makeReportDay } from '../functions/reportDay.js';
import { loadConfig } from '../src/composition/config.js';
import type { CalibrationRecord } from '../src/domain/calibration/calibrate.js';
import {
  createServices,
  dailyDeps,
  driftSetup,
  ingestDeps,
  planDeps,
  storageClients,
  type Services,
} from '../src/composition/composition.js';
import { budgetErrorLine } from '../src/domain/budgets/error-line.js';
import type { DailyMetrics } from '../src/domain/metrics/metrics.js';
import { parseMetrics, renderMetrics } from '../src/domain/metrics/build.js';
import { TENANTS } from '../src/simulator/workload.js';
import { pastDays } from './drift-history/from-day.js';
import { cardInShort, startTeamsStandIn } from './teams-stand-in.js';
import { dayTable } from './day-table.js';
import { exportReports } from './export-reports.js';
import { startAzurite } from './azurite.js';
import { drainQueue } from './queue-delivery.js';
import { fleetTraffic, podServing } from './fleet-traffic.js';
import { startAmlStandIn } from './aml-stand-in.js';
import { budgetDemo } from './budget-demo.js';
import { canaryDemo } from './canary-demo.js';
import { REPLAY_TENANT } from './replay-demo.js';
import { DemoClock, qualityDemo, REGRESSED_MODEL } from './quality-demo.js';
import { releaseDemo } from './release-demo.js';
import { HttpRequest, InvocationContext, quietContext, TIMER } from './functions-runtime.js';

// The repository root, from dist/dev/ (npm start) or from dev/ (run from source with tsx).
const root = new URL(import.meta.url.includes('/dist/dev/') ? '../..' : '..', import.meta.url).pathname;
const out = join(root, 'out');
const date = previousDay(dayOfMs(Date.now()));

async function main(): Promise<void> {
  const started = Date.now();
  const seconds = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  await rm(out, { recursive: true, force: true });
  const azurite = await startAzurite();
  const teams = await startTeamsStandIn();
  const stops: (() => Promise<void>)[] = [];
  const clock = new DemoClock(`${date}T06:00:00Z`);
  try {
    console.log(
      `Azurite on 127.0.0.1:${azurite.blobPort} (blob), :${azurite.tablePort} (table) and :${azurite.queuePort} (queue), in memory`,
    );
    const aml = await startAmlStandIn({ now: clock.now });
    stops.push(() => aml.close());
    const tokenFile = join(out, 'aml-token.json');
    await mkdir(out, { recursive: true });
    // As `az account get-access-token` prints it; the stand-in accepts only this token.
    await writeFile(
      tokenFile,
      JSON.stringify({ accessToken: aml.token, expiresOn: '2099-01-01 00:00:00.000000' }),
    );
    const s = await createServices(
      loadConfig({
        LEDGER_STORAGE_CONNECTION_STRING: azurite.connectionString,
        TEAMS_WEBHOOK_URL: teams.url,
        // Where `func start` serves getReport on this machine.
        REPORT_LINK_BASE: 'http://localhost:7071/api/reports/',
        AML_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
        AML_RESOURCE_GROUP: 'rg-llm-platform',
        AML_WORKSPACE: 'mlw-llm-platform',
        AML_COMPUTE: 'a100-cluster',
        AML_ENVIRONMENT_ID:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-llm-platform/providers/Microsoft.MachineLearningServices/workspaces/mlw-llm-platform/environments/llm-train/versions/3',
        AML_CODE_ID:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-llm-platform/providers/Microsoft.MachineLearningServices/workspaces/mlw-llm-platform/codes/llm-train/versions/12',
        RETRAIN_MAX_USD: '500',
        AZURE_ARM_ENDPOINT: aml.url,
        AZURE_ARM_TOKEN_FILE: tokenFile,
        // The day's budgets: ingest estimates their spend, the report's exact figures replace it.
        BUDGETS_PATH: join(root, 'dev', 'day-budgets.json'),
        // `WEIGHTING=calibrated npm start` shows the day with each deployment's fitted step costs.
        ...(process.env.WEIGHTING === undefined ? {} : { WEIGHTING: process.env.WEIGHTING }),
      }),
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

    // What the harness and the canary send goes through real sidecars; their events join the day's.
    const deliver = async (events: readonly Record<string, unknown>[]): Promise<void> => {
      await traffic.hub.publish(
        ingest,
        events.map((e) => ({
          body: e,
          partitionKey: String(e.pod),
          enqueuedTime: new Date(
            Date.parse(String(e.type === 'usage' ? e.finishedAt : e.windowEnd)) + 1500,
          ).toISOString(),
        })),
      );
    };
    const served = podServing(
      traffic.pods,
      REGRESSED_MODEL,
      `${date}T05:00:00.000Z`,
      `${date}T11:00:00.000Z`,
    );
    console.log(`\nQuality gate and retraining (Azure ML stand-in at ${aml.url}, clock set inside ${date}):`);
    const retrained = await qualityDemo(s, aml, date, clock, { pod: served, deliver }, (line) => {
      console.log(line);
    });
    console.log(`[${seconds()}]\n`);

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
    print(csv, JSON.parse(summaryText) as Record<string, number>);
    const closed = parseMetrics((await s.reports.metrics(date)) ?? '').budgets ?? [];
    if (closed.length > 0) {
      console.log(`\nBudgets: the report's exact figures replace what ingest estimated for ${date}:`);
      for (const m of closed) console.log(`  ${budgetErrorLine(m)}`);
    }
    await explainOne(s);

    const history = await writeHistory(s);
    console.log(
      `\nDrift: wrote ${history.size} days of history before ${date} (the day's own metrics with noise; ` +
        `${CHANGED_FEATURE} cost ${Math.round((1 - COST_BEFORE) * 100)}% less per token before) [${seconds()}]`,
    );
    const reportsDir = join(out, 'reports');
    const blobs = storageClients(s.config).blobs.getContainerClient(s.config.reportsContainer);
    if (retrained !== undefined) {
      console.log(`\nThe retrained model, from its registration to a promotion verdict:`);
      // The cost gate projects onto real volume: the day's metrics and the history's.
      await exportReports(blobs, reportsDir, { metricsOnly: history });
      await canaryDemo(
        {
          s,
          aml,
          date,
          jobName: retrained.name,
          model: retrained.model,
          currentVersion: '7',
          route: { pod: served, deliver },
          clock,
          // The day as the sidecars sent it, without the broken messages fleetTraffic adds (pod `hostile`).
          dayEvents: traffic.hub.partitions
            .flatMap((p) => p.map((m) => m.body))
            .filter((b) => (b as { pod?: unknown }).pod !== 'hostile'),
          reportsDir,
          outDir: join(out, 'promotion'),
        },
        (line) => {
          console.log(`  ${line}`);
        },
      );
    }
    const reportDay = makeReportDay(() => Promise.resolve({ ...dailyDeps(s), drift: driftSetup(s) }));
    await reportDay(
      JSON.stringify({ day: date, reason: 'on-demand', requestedAt: new Date().toISOString() }),
      new InvocationContext({
        invocationId: 'local-run-drift',
        functionName: 'reportDay',
        logHandler: (_level, ...args) => {
          const line = args.map(String).join(' ');
          if (line.includes(' drift')) console.log(`  ${line}`);
        },
      }),
    );
    // The whole day as the daily run stored it (and the history's metrics), for `chargeback explain` and `drift`.
    const exported = await exportReports(blobs, reportsDir, { metricsOnly: history });
    if (retrained !== undefined) printLateTraffic(parseMetrics((await s.reports.metrics(date)) ?? ''));
    const csvPath = join(reportsDir, `chargeback-${date}.csv`);
    const summaryPath = join(reportsDir, `summary-${date}.json`);
    const pagePath = join(reportsDir, `report-${date}.html`);
    const alertsPath = join(reportsDir, `alerts-${date}.json`);
    console.log(`The Teams stand-in received ${teams.received.length} cards:`);
    for (const body of teams.received) {
      const [title, ...lines] = cardInShort(body);
      console.log(`  ■ ${title ?? '(no title)'}`);
      for (const line of lines) console.log(`    ${line.length > 110 ? `${line.slice(0, 109)}…` : line}`);
    }
    console.log(
      `\nSpend budgets (tenant contoso: $0.05 a day, refuse; a sidecar in front of the fake vLLM):`,
    );
    const cardsBefore = teams.received.length;
    await budgetDemo(azurite.connectionString, teams.url, (line) => {
      console.log(`  ${line}`);
    });
    for (const body of teams.received.slice(cardsBefore)) {
      const [title, ...lines] = cardInShort(body);
      console.log(`  ■ ${title ?? '(no title)'}`);
      for (const line of lines) console.log(`    ${line.length > 110 ? `${line.slice(0, 109)}…` : line}`);
    }
    console.log(`[${seconds()}]`);
    console.log(`\nA month of simulated days, its monthly report, and the release cost gate:`);
    await releaseDemo(join(out, 'release'), (line) => {
      console.log(`  ${line}`);
    });
    console.log(
      `[${seconds()}]\n\n${exported.filter((name) => name.includes(date)).length} files of ${date} in ${reportsDir}/ ` +
        `(and the drift history's metrics), for \`chargeback explain --reports ${reportsDir} --date ${date} ...\` and \`drift\`\n` +
        `Report: ${csvPath}\nPage: ${pagePath}\nSummary: ${summaryPath}\nAlerts: ${alertsPath}\n` +
        `Monthly: ${join(out, 'release', 'monthly', 'report-2026-11.html')}\nDone in ${seconds()}.`,
    );
  } finally {
    for (const stop of stops) await stop();
    await teams.stop();
    await azurite.stop();
  }
}

/** What the restated day holds of the harness, the replays and the canary, whose events came after its first report. */
function printLateTraffic(day: DailyMetrics): void {
  console.log(
    `\nThe day restated (revision ${day.revision}) with the events of the harness, the replays and the canary:`,
  );
  for (const tenant of ['quality', REPLAY_TENANT]) {
    const groups = day.groups.filter((g) => g.tenant === tenant);
    const requests = groups.reduce((n, g) => n + g.requests, 0);
    const cost = groups.reduce((n, g) => n + g.costUsd, 0);
    const features = [...new Set(groups.map((g) => g.feature))].sort();
    console.log(`  tenant ${tenant}: ${requests} requests, $${cost.toFixed(4)} (${features.join(', ')})`);
  }
  for (const pod of day.pods.filter((p) => p.pod?.includes('-canary-') === true))
    console.log(
      `  canary pod ${pod.pod ?? ''}: held ${(pod.fleetGpuSeconds / 60).toFixed(1)} GPU-minutes, $${pod.fleetCostUsd.toFixed(4)}, of which idle $${pod.idleCostUsd.toFixed(4)}`,
    );
}

const CHANGED_FEATURE = 'chat';
const COST_BEFORE = 0.6;

/**
 * The baseline days before the simulated day, made from its metrics (see from-day.ts). A day that
 * already has a report (traffic spilling over midnight) keeps it.
 */
async function writeHistory(s: Services): Promise<Set<string>> {
  const today = parseMetrics((await s.reports.metrics(date)) ?? '');
  const past = pastDays(today, {
    days: s.driftRules.baselineDays,
    seed: 1,
    feature: CHANGED_FEATURE,
    costFactor: COST_BEFORE,
  });
  const written = new Set<string>();
  for (const metrics of past) {
    if ((await s.reports.info(metrics.date)) !== undefined) continue;
    const files = {
      csv: '',
      summary: '{"note":"local demo history: metrics only"}\n',
      metrics: renderMetrics(metrics),
    };
    await s.reports.write(metrics.date, files, { revision: 1, ledgerAsOf: metrics.generatedAt });
    written.add(metrics.date);
  }
  return written;
}

/** Contoso's most expensive chat request of the day, found with --top's code and explained by the getRequest handler. */
async function explainOne(s: Services): Promise<void> {
  const source = await s.reports.requests(date);
  if (source === undefined) return;
  const tenant = TENANTS.contoso;
  const [top] = await topRequests(source, tenant, 'chat', 1);
  if (top === undefined) return;
  const query = `date=${date}&tenant=${encodeURIComponent(tenant)}`;
  const response = await makeGetRequest(() => Promise.resolve({ reports: s.reports }))(
    new HttpRequest({
      method: 'GET',
      url: `http://localhost/api/requests/${top.requestId}?${query}`,
      params: { id: top.requestId },
    }),
    quietContext(),
  );
  console.log(
    `\nGET /api/requests/${top.requestId}?${query} (${tenant}'s most expensive chat request of the day): ${response.status}`,
  );
  const body = response.jsonBody as Explanation | undefined;
  if (body !== undefined) for (const line of renderExplanation(body).split('\n').slice(2)) console.log(line);
}

function print(csv: string, summary: Record<string, number>): void {
  console.log('');
  for (const line of dayTable(csv, date)) console.log(line);
  const f = (n: number | undefined): string => (n ?? 0).toFixed(2);
  const calibration = (summary as unknown as { calibration?: CalibrationRecord[] }).calibration;
  if (calibration !== undefined) {
    console.log(
      '\nStep costs (WEIGHTING=calibrated), ms: fixed step / prompt token / generated token + per context token:',
    );
    for (const c of calibration) {
      const k = c.fitted;
      const constants =
        k === undefined
          ? ''
          : ` ${k.fixedMs} / ${k.prefillMsPerToken} / ${k.decodeMsPerToken} + ${k.decodeMsPerContextToken}`;
      console.log(
        `  ${c.model} on ${c.gpuCount} x ${c.gpuSku}: ${c.source}${c.source === 'fitted' ? constants : ` (${c.reason ?? ''})`}, ${c.requests} requests`,
      );
    }
  }
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
