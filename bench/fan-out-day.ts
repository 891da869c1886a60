/**
 * The daily run fanned out, on Azurite with its data on disk: a simulated day of DAY_EVENTS events
 * (1,000,000 unless given) on 40 pods over 32 partitions, written into the ledger by the ingest use
 * case (a batch per partition at a time, the partitions in parallel), then reported twice by
 * dev/fan-out-worker.ts processes running dev/day-work-module.ts, each time into fresh job, run and
 * report containers: by 1 worker, and by 3 at once with one SIGKILLed mid-day. Prints each
 * worker's peak RSS, the wall times, and whether the two runs' report blobs are byte-identical.
 *
 *   DAY_EVENTS=1000000 DAY_UNIT_EVENTS=200000 node --import tsx bench/fan-out-day.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { StorageFanOutStore, StorageWorkQueue } from '../src/adapters/azure-storage/storage-fan-out.js';
import { StorageLedger } from '../src/adapters/azure-storage/storage-ledger.js';
import { readPriceCard } from '../src/composition/files.js';
import { startDay } from '../src/usecases/day/day-work.js';
import { startJob } from '../src/usecases/fan-out/fan-out.js';
import { ingestBatch, type DeliveredMessage } from '../src/usecases/ingest/ingest.js';
import { startAzurite } from '../dev/azurite.js';
import { dayWorkDeps } from '../dev/day-work-module.js';

const DATE = '2026-11-22';
const EVENTS = Number(process.env.DAY_EVENTS ?? 1_000_000);
const UNIT_EVENTS = process.env.DAY_UNIT_EVENTS ?? '200000';
const PARTITIONS = 32;
const PODS = 40;
const BATCH = 5000;
const root = new URL('..', import.meta.url).pathname;
const prices = readPriceCard(join(root, 'prices/azure-a100.json'));
const NOW = `2026-11-23T00:30:00.000Z`;

function eventsFile(): string {
  const cache = join(root, '.bench');
  mkdirSync(cache, { recursive: true });
  const file = join(cache, `events-${EVENTS}.ndjson`);
  if (existsSync(file)) return file;
  process.stderr.write(`simulating ${EVENTS} events on ${PODS} pods into ${file} ...\n`);
  execFileSync(process.execPath, [
    join(root, 'bin', 'chargeback.js'),
    'simulate',
    ...['--date', DATE, '--out', file, '--pods', String(PODS), '--seed', '7'],
    ...['--requests', String(EVENTS - PODS * 1441)],
  ]);
  return file;
}

function partitionOf(pod: string): number {
  return createHash('sha256').update(pod).digest().readUInt32BE(0) % PARTITIONS;
}

/** The day's events into the ledger as the ingest Function writes them, by partition. */
async function fillLedger(connection: string, file: string): Promise<number> {
  const blobs = BlobServiceClient.fromConnectionString(connection);
  const ledger = new StorageLedger(
    TableClient.fromConnectionString(connection, 'ledger', { allowInsecureConnection: true }),
    blobs.getContainerClient('ledger'),
  );
  await ledger.ensure();
  const pending = Array.from({ length: PARTITIONS }, () => [] as DeliveredMessage[]);
  const sequence = new Array<number>(PARTITIONS).fill(0);
  const writing = new Array<Promise<void>>(PARTITIONS).fill(Promise.resolve());
  const deps = { ledger, prices, now: () => new Date() };
  let lines = 0;
  const flush = (p: number): void => {
    const batch = pending[p] ?? [];
    pending[p] = [];
    writing[p] = (writing[p] ?? Promise.resolve()).then(async () => {
      await ingestBatch(batch, deps);
    });
  };
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (line === '') continue;
    lines += 1;
    const body = JSON.parse(line) as { pod?: string };
    const p = partitionOf(body.pod ?? '');
    const seq = (sequence[p] ?? 0) + 1;
    sequence[p] = seq;
    pending[p]?.push({ body, partition: String(p), sequenceNumber: seq, enqueuedTime: NOW });
    if ((pending[p]?.length ?? 0) >= BATCH) {
      flush(p);
      // Back-pressure: at most one batch in flight per partition.
      await writing[p];
    }
  }
  for (let p = 0; p < PARTITIONS; p++) flush(p);
  await Promise.all(writing);
  return lines;
}

interface WorkerRun {
  pid: number;
  maxRssMiB: number;
  killed: boolean;
  handled?: Record<string, number>;
}

/** One report of the day: a fresh job table, containers and queue; `workers` processes, one killed if asked. */
async function reportWith(connection: string, name: string, workers: number, kill: boolean) {
  const env = {
    ...process.env,
    DAY_WORK_CONNECTION_STRING: connection,
    DAY_WORK_REPORTS_CONTAINER: `reports-${name}`,
    DAY_WORK_RUNS_CONTAINER: `runs-${name}`,
    DAY_WORK_NOW: NOW,
    DAY_UNIT_EVENTS: UNIT_EVENTS,
  };
  const blobs = BlobServiceClient.fromConnectionString(connection);
  await blobs.getContainerClient(`reports-${name}`).createIfNotExists();
  await blobs.getContainerClient(`runs-${name}`).createIfNotExists();
  const store = new StorageFanOutStore(
    TableClient.fromConnectionString(connection, `jobs${name}`, { allowInsecureConnection: true }),
    blobs.getContainerClient(`jobs-${name}`),
  );
  const queueClient = new QueueClient(connection, `units-${name}`);
  const queue = new StorageWorkQueue(queueClient);
  await Promise.all([store.ensure(), queue.ensure()]);
  const leaseMs = 20_000;
  const fanOut = { store, queue, clock: () => new Date(), leaseMs };
  const started = performance.now();
  const day = await startDay(DATE, dayWorkDeps(env), (job, plan, units) =>
    startJob(fanOut, job, plan, units),
  );
  if (!('job' in day)) throw new Error('the day was kept: expected fresh report containers');
  const args = [
    '--import',
    'tsx',
    join(root, 'dev/fan-out-worker.ts'),
    ...['--connection-string', connection, '--queue', `units-${name}`, '--table', `jobs${name}`],
    ...['--container', `jobs-${name}`, '--work', join(root, 'dev/day-work-module.ts')],
    ...['--visibility-s', '10', '--lease-ms', String(leaseMs), '--exit-when-drained'],
  ];
  const runs = Array.from({ length: workers }, (_, i) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const run: WorkerRun = { pid: child.pid ?? 0, maxRssMiB: Number.NaN, killed: false };
    const ended = new Promise<WorkerRun>((resolve) =>
      child.on('exit', (code) => {
        if (run.killed) {
          resolve(run);
          return;
        }
        if (code !== 0) process.stderr.write(`worker ${i} exited ${String(code)}: ${err.slice(-2000)}\n`);
        const last = out.trim().split('\n').at(-1) ?? '{}';
        const line = JSON.parse(last) as { maxRssKiB?: number; handled?: Record<string, number> };
        run.maxRssMiB = (line.maxRssKiB ?? Number.NaN) / 1024;
        if (line.handled !== undefined) run.handled = line.handled;
        resolve(run);
      }),
    );
    return { child, run, ended, log: () => err };
  });
  if (kill) {
    const victim = runs[0];
    // Mid-day: once the victim has run a unit or two.
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      if (victim === undefined || (victim.log().match(/unit ran/g) ?? []).length >= 1) break;
    }
    if (victim !== undefined) {
      // Its peak so far, read before the kill: a killed process prints nothing.
      const status = readFileSync(`/proc/${victim.run.pid}/status`, 'utf8');
      victim.run.maxRssMiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
      victim.run.killed = true;
      victim.child.kill('SIGKILL');
    }
  }
  // The day is reported when its outcome is committed; the workers then still wait for the job's
  // delayed fan-in message (visible a lease after the start) before the queue is empty.
  let outcomeS = Number.NaN;
  const watch = (async () => {
    while ((await store.outcome(day.job)) === undefined) await new Promise((r) => setTimeout(r, 250));
    outcomeS = (performance.now() - started) / 1000;
  })();
  const done = await Promise.all(runs.map((r) => r.ended));
  await watch;
  const seconds = (performance.now() - started) / 1000;
  const outcome = await store.outcome(day.job);
  return { outcomeS, seconds, workers: done, outcome, hashes: await blobHashes(blobs, `reports-${name}`) };
}

async function blobHashes(blobs: BlobServiceClient, name: string): Promise<Map<string, string>> {
  const container = blobs.getContainerClient(name);
  const hashes = new Map<string, string>();
  for await (const blob of container.listBlobsFlat()) {
    const bytes = await container.getBlobClient(blob.name).downloadToBuffer();
    hashes.set(blob.name, createHash('sha256').update(bytes).digest('hex'));
  }
  return hashes;
}

const location = mkdtempSync(join(tmpdir(), 'fan-out-day-'));
const azurite = await startAzurite({ location });
try {
  const file = eventsFile();
  const t0 = performance.now();
  const lines = await fillLedger(azurite.connectionString, file);
  const ingestS = (performance.now() - t0) / 1000;
  console.log(`ledger: ${lines} events, ${PARTITIONS} partitions, ingested in ${ingestS.toFixed(1)} s`);
  const one = await reportWith(azurite.connectionString, 'one', 1, false);
  console.log(
    `1 worker: reported in ${one.outcomeS.toFixed(1)} s, drained in ${one.seconds.toFixed(1)} s`,
    JSON.stringify(one.workers),
    JSON.stringify(one.outcome),
  );
  const three = await reportWith(azurite.connectionString, 'three', 3, true);
  console.log(
    `3 workers, one SIGKILLed: reported in ${three.outcomeS.toFixed(1)} s, drained in ${three.seconds.toFixed(1)} s`,
    JSON.stringify(three.workers),
    JSON.stringify(three.outcome),
  );
  const same =
    one.hashes.size > 0 &&
    one.hashes.size === three.hashes.size &&
    [...one.hashes].every(([k, v]) => three.hashes.get(k) === v);
  console.log(`report blobs: ${one.hashes.size} vs ${three.hashes.size}, byte-identical (sha256): ${same}`);
  for (const [k, v] of one.hashes)
    console.log(`  ${k} ${v.slice(0, 16)} ${three.hashes.get(k) === v ? '=' : '≠'}`);
  console.log(
    JSON.stringify(
      { date: new Date().toISOString(), events: lines, ingestS, one, three },
      (_k, v: unknown): unknown => (v instanceof Map ? (Object.fromEntries(v) as unknown) : v),
    ),
  );
} finally {
  await azurite.stop();
  rmSync(location, { recursive: true, force: true });
}
