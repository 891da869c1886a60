/**
 * Cost of the event journal: the synchronous write of each event as it is enqueued (src/sidecar/
 * journal.ts), which is on the request's path. Measures, per event of a typical usage event:
 * JSON.stringify alone, Journal.record (stringify + writeSync, no fsync, with a file removed after
 * every 500 events as delivered batches settle them), and EventPipe.enqueue with a sender that takes
 * every batch at once. Figures are the median of 5 runs, and the p99 of single record calls.
 * JOURNAL_BENCH_DIR names the folder (default the system's temporary folder: use the disk the spool
 * is on); JOURNAL_BENCH_EVENTS the events per run (default 100,000).
 * Run: `npm run build && node dist/bench/journal-bench.js` (or npx tsx bench/journal-bench.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../src/sidecar/journal.js';
import { EventPipe } from '../src/sidecar/pipe.js';

const EVENTS = Number(process.env.JOURNAL_BENCH_EVENTS ?? 100_000);
const RUNS = 5;
const BATCH = 500;
const base = process.env.JOURNAL_BENCH_DIR ?? tmpdir();

/** A usage event as the sidecar emits it (about 560 bytes of JSON). */
const usage = (i: number): Record<string, unknown> => ({
  type: 'usage',
  schemaVersion: 1,
  eventId: `0c1f6f2e-5d0a-4a36-9a8e-${String(i).padStart(12, '0')}`,
  requestId: `chatcmpl-0635edb09a5b45ffa07eb33dac4${String(i).padStart(5, '0')}`,
  tenant: 'contoso',
  feature: 'code-assist',
  model: 'llama-3.1-8b-instruct',
  requestClass: 'interactive',
  pod: 'vllm-llama-3-1-8b-instruct-7d9f8c6b5-2tprn',
  gpuSku: 'Standard_NC24ads_A100_v4',
  gpuCount: 1,
  startedAt: '2026-11-22T14:45:59.394Z',
  firstTokenAt: '2026-11-22T14:45:59.501Z',
  finishedAt: '2026-11-22T14:46:00.186Z',
  promptTokens: 1947,
  completionTokens: 49,
  cachedPromptTokens: 1024,
  queueMs: 10.747,
  status: 'ok',
  httpStatus: 200,
});
const events = Array.from({ length: EVENTS }, (_, i) => usage(i));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const ns = (ms: number): string => `${Math.round((ms * 1e6) / EVENTS)} ns`;

function stringifyOnly(): number {
  let bytes = 0;
  const t = performance.now();
  for (const e of events) bytes += JSON.stringify(e).length;
  const elapsed = performance.now() - t;
  if (bytes === 0) throw new Error('nothing serialised');
  return elapsed;
}

function journalRecord(singles: number[]): number {
  const dir = mkdtempSync(join(base, 'journal-bench-'));
  const journal = new Journal(dir);
  const t = performance.now();
  for (let i = 0; i < EVENTS; i += 1) {
    const one = performance.now();
    journal.record(events[i] as Record<string, unknown>);
    singles.push(performance.now() - one);
    if ((i + 1) % BATCH === 0) journal.settle(BATCH); // a batch delivered: its file goes
  }
  const elapsed = performance.now() - t;
  journal.close();
  rmSync(dir, { recursive: true, force: true });
  return elapsed;
}

async function pipeEnqueue(): Promise<number> {
  const dir = mkdtempSync(join(base, 'journal-bench-'));
  const pipe = new EventPipe(
    { send: () => Promise.resolve(), close: () => Promise.resolve() },
    { spoolDir: dir, queueMax: EVENTS + 1, batchMax: BATCH, log: () => undefined },
  );
  let elapsed = 0;
  for (let i = 0; i < EVENTS; i += BATCH) {
    const t = performance.now();
    for (const e of events.slice(i, i + BATCH)) pipe.enqueue(e);
    elapsed += performance.now() - t;
    await new Promise((r) => setImmediate(r)); // the batch is sent, as the event loop would
  }
  await pipe.close();
  rmSync(dir, { recursive: true, force: true });
  return elapsed;
}

function filesystem(dir: string): string {
  try {
    return (
      execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)?.split(/\s+/)[1] ?? '?'
    );
  } catch {
    return '?';
  }
}

const bytes = Buffer.byteLength(`${JSON.stringify(events[0])}\n`);
const stringify: number[] = [];
const record: number[] = [];
const enqueue: number[] = [];
const singles: number[] = [];
for (let run = 0; run < RUNS; run += 1) {
  stringify.push(stringifyOnly());
  record.push(journalRecord(run === RUNS - 1 ? singles : []));
  enqueue.push(await pipeEnqueue());
}
singles.sort((a, b) => a - b);
const p99 = singles[Math.floor(singles.length * 0.99)] ?? NaN;
process.stdout.write(
  [
    `journal bench: ${EVENTS} usage events of ${bytes} bytes a run, ${RUNS} runs, in ${base} (${filesystem(base)}), node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
    `  JSON.stringify alone:          ${ns(median(stringify))} per event`,
    `  Journal.record (+ writeSync):  ${ns(median(record))} per event; single calls p99 ${Math.round(p99 * 1e6)} ns`,
    `  EventPipe.enqueue (all of it): ${ns(median(enqueue))} per event`,
    '',
  ].join('\n'),
);
