/**
 * The sidecar's memory and CPU on answers a client makes large: 20 concurrent 20 MB plain answers
 * (the pod's memory limit for the sidecar is 512 Mi), and one streamed answer whose first event is
 * 16 MB (logprobs), read in the socket's pieces. Goals: peak RSS well inside 512 MiB, and CPU per
 * answer linear in its bytes (one 16 MB event took 14.6 s of CPU when the splitter rescanned its
 * pending text at every piece). The sidecar runs as its own process (the command line), the fake
 * vLLM and the clients in this one; figures are the sidecar process's own, from /proc.
 * Run: `npm run build && node dist/bench/answer-bench.js`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { FakeVllm } from '../dev/fake-vllm.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'answer-bench-'));
const vllm = new FakeVllm();
const upstream = await vllm.start();
const child = spawn(
  process.execPath,
  [
    join(root, 'bin', 'chargeback.js'),
    'sidecar',
    '--upstream',
    upstream.href,
    '--listen',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    '--sink',
    `file:${join(scratch, 'sink')}`,
    '--spool',
    join(scratch, 'spool'),
  ],
  {
    env: {
      ...process.env,
      POD_NAME: 'bench-0',
      GPU_SKU: 'Standard_NC24ads_A100_v4',
      GPU_COUNT: '1',
      MODEL_NAME: 'fake-model',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
const port = await new Promise<number>((resolve, reject) => {
  let text = '';
  child.stderr.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    const match = /proxying 127\.0\.0\.1:(\d+)/.exec(text);
    if (match !== null) resolve(Number(match[1]));
  });
  child.once('exit', () => {
    reject(new Error(`sidecar exited: ${text}`));
  });
});

/** The sidecar's peak resident memory (MiB) and CPU seconds so far. */
function sidecarNow(): { peakMiB: number; rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime, in clock ticks (100 per second)
  return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024, cpuSeconds: ticks / 100 };
}

async function call(headers: Record<string, string>, body: unknown): Promise<number> {
  const response = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': 'bench', ...headers },
    body: JSON.stringify(body),
  });
  let bytes = 0;
  for await (const chunk of response.body) bytes += (chunk as Buffer).length;
  return bytes;
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const idle = sidecarNow();
console.log(`sidecar at rest: ${fmt(idle.rssMiB)} MiB resident`);

const plainStart = sidecarNow();
const t0 = performance.now();
const sizes = await Promise.all(
  Array.from({ length: 20 }, () =>
    call({ 'x-fake-answer-padding': String(20 * 1024 * 1024) }, { model: 'fake-model', messages: [] }),
  ),
);
const plain = sidecarNow();
console.log(
  `20 concurrent plain answers of ${fmt((sizes[0] ?? 0) / 1e6)} MB: peak RSS ${fmt(plain.peakMiB)} MiB, ` +
    `sidecar CPU ${fmt(plain.cpuSeconds - plainStart.cpuSeconds, 2)} s, wall ${fmt((performance.now() - t0) / 1000, 2)} s`,
);

const streamStart = sidecarNow();
const t1 = performance.now();
const streamed = await call(
  { 'x-fake-event-padding': String(16 * 1024 * 1024), 'x-fake-tokens': '8' },
  { model: 'fake-model', messages: [], stream: true },
);
const stream = sidecarNow();
console.log(
  `one stream with a 16 MB event (${fmt(streamed / 1e6)} MB in all, read unsplit up to 8 MiB then relayed unread): ` +
    `sidecar CPU ${fmt(stream.cpuSeconds - streamStart.cpuSeconds, 2)} s, wall ${fmt((performance.now() - t1) / 1000, 2)} s, ` +
    `peak RSS ${fmt(stream.peakMiB)} MiB`,
);

const smallStart = sidecarNow();
const t2 = performance.now();
await call(
  { 'x-fake-event-padding': String(4 * 1024 * 1024), 'x-fake-tokens': '8' },
  { model: 'fake-model', messages: [], stream: true },
);
const small = sidecarNow();
console.log(
  `one stream with a 4 MB event (read whole): sidecar CPU ${fmt(small.cpuSeconds - smallStart.cpuSeconds, 2)} s, ` +
    `wall ${fmt((performance.now() - t2) / 1000, 2)} s`,
);

child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
await vllm.stop();
rmSync(scratch, { recursive: true, force: true });
