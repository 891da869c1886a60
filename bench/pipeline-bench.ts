/**
 * The Functions' speed on this machine, against Azurite started here (in memory):
 * - ingestion through the real `ingestUsage` handler with batches of 100 and of 1,000 events,
 *   four partitions delivered in parallel as one instance owning them would (goal: at least
 *   10,000 events/s with batches of 1,000);
 * - the daily run (`reportDay`) over a ledger of about 1,000,000 events (goal: under 30 s), with
 *   the configured step costs, then with WEIGHTING=calibrated into another reports container: the
 *   day's first report (fit, partitions read twice) and the same day again (stored fit reused).
 * Run: `npm run build && node dist/bench/pipeline-bench.js`. Sizes: INGEST_EVENTS, DAILY_EVENTS.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeIngestUsage } from '../functions/ingestUsage.js';
import { createServices, dailyDeps, ingestDeps, type Services } from '../src/composition/composition.js';
import { loadConfig } from '../src/composition/config.js';
import { reportDay } from '../src/usecases/daily/daily-run.js';
import { startAzurite } from '../dev/azurite.js';
import { invoke, type HubMessage } from '../dev/event-hub-delivery.js';
import { fleetTraffic } from '../dev/fleet-traffic.js';
import { dayOfMs } from '../src/domain/days.js';

const DATE = '2026-11-22';
const ingestEvents = Number(process.env.INGEST_EVENTS ?? 200_000);
const dailyEvents = Number(process.env.DAILY_EVENTS ?? 1_000_000);

function traffic(events: number): HubMessage[][] {
  const pods = Math.max(8, Math.round(events / 62_500));
  return fleetTraffic({
    date: DATE,
    pods,
    seed: 3,
    requests: Math.max(0, events - pods * 1445),
    duplicateRate: 0,
    partitions: 4,
  }).hub.partitions;
}

async function ingest(
  s: Services,
  partitions: HubMessage[][],
  batchSize: number,
): Promise<{ events: number; seconds: number }> {
  const handler = makeIngestUsage(() => Promise.resolve(ingestDeps(s, 60_000)));
  const started = performance.now();
  await Promise.all(
    partitions.map(async (messages, p) => {
      for (let i = 0; i < messages.length; i += batchSize)
        await invoke(handler, String(p), messages.slice(i, i + batchSize));
    }),
  );
  const events = partitions.reduce((n, m) => n + m.length, 0);
  return { events, seconds: (performance.now() - started) / 1000 };
}

async function withAzurite<T>(work: (s: Services, connectionString: string) => Promise<T>): Promise<T> {
  const azurite = await startAzurite();
  try {
    const config = loadConfig({ LEDGER_STORAGE_CONNECTION_STRING: azurite.connectionString });
    return await work(await createServices(config), azurite.connectionString);
  } finally {
    await azurite.stop();
  }
}

if (process.argv[2] === '--daily') {
  const s = await createServices(
    loadConfig({
      LEDGER_STORAGE_CONNECTION_STRING: process.env.BENCH_CONNECTION_STRING,
      ...(process.env.BENCH_WEIGHTING === undefined
        ? {}
        : { WEIGHTING: process.env.BENCH_WEIGHTING, REPORTS_CONTAINER: 'reports-calibrated' }),
    }),
  );
  const started = performance.now();
  const outcome = await reportDay(DATE, dailyDeps(s));
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    JSON.stringify({ events: outcome.events, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }),
  );
  process.exit(0);
}

const rows: string[] = [];
const ingestTraffic = traffic(ingestEvents);
for (const batchSize of [100, 1000]) {
  process.stderr.write(`ingesting ${ingestEvents} events in batches of ${batchSize} ...\n`);
  const r = await withAzurite((s) => ingest(s, ingestTraffic, batchSize));
  rows.push(
    `| ingestUsage, batches of ${batchSize} | ${r.events.toLocaleString('en-US')} events | ${r.seconds.toFixed(1)} s | ${Math.round(r.events / r.seconds).toLocaleString('en-US')} events/s |`,
  );
  process.stderr.write(`${rows[rows.length - 1] ?? ''}\n`);
}

process.stderr.write(`loading a ledger of about ${dailyEvents} events ...\n`);
await withAzurite(async (s, connectionString) => {
  const load = await ingest(s, traffic(dailyEvents), 1000);
  rows.push(
    `| ingestUsage, batches of 1000 (daily-run load) | ${load.events.toLocaleString('en-US')} events | ${load.seconds.toFixed(1)} s | ${Math.round(load.events / load.seconds).toLocaleString('en-US')} events/s |`,
  );
  // The daily run in a process of its own, as in the Function App, so its memory is its own.
  // With a heap limit the figure shows what the run needs, not how lazily V8 collects (DAILY_HEAP_MB).
  const heap =
    process.env.DAILY_HEAP_MB === undefined ? [] : [`--max-old-space-size=${process.env.DAILY_HEAP_MB}`];
  const daily = (label: string, weighting?: string): void => {
    const child = spawnSync(process.execPath, [...heap, fileURLToPath(import.meta.url), '--daily'], {
      env: {
        ...process.env,
        BENCH_CONNECTION_STRING: connectionString,
        ...(weighting === undefined ? {} : { BENCH_WEIGHTING: weighting }),
      },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`daily run failed: ${child.stderr}`);
    const r = JSON.parse(child.stdout) as { events: number; seconds: number; maxRssMb: number };
    rows.push(
      `| dailyChargeback (reportDay${heap.length > 0 ? `, heap limit ${process.env.DAILY_HEAP_MB ?? ''} MB` : ''}, ${label}) | ${r.events.toLocaleString('en-US')} events | ${r.seconds.toFixed(1)} s | peak RSS ${Math.round(r.maxRssMb)} MB |`,
    );
    process.stderr.write(`${rows[rows.length - 1] ?? ''}\n`);
  };
  daily('step-cost');
  daily('calibrated, first report', 'calibrated');
  daily('calibrated, again: stored fit', 'calibrated');
});

process.stdout.write(
  `\nFunctions benchmark on Azurite, ${dayOfMs(Date.now())}, node ${process.version}\n\n` +
    `| what | size | time | rate / memory |\n|---|---|---|---|\n${rows.join('\n')}\n`,
);
