import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { spawnCli } from '../helpers/cli.js';

/** What a sidecar process keeps of answered requests when it is killed, or stopped impatiently. */

const vllm = new FakeVllm();
let upstream: URL;
const children: ChildProcess[] = [];

beforeAll(async () => {
  upstream = await vllm.start();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await vllm.stop();
});

/** The events in NDJSON files of a folder. */
function eventsIn(dir: string): Record<string, unknown>[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * A streamed completion through the sidecar: resolves with the body when the response completed
 * at the client (its last byte read), with undefined when it was cut short or failed.
 */
function stream(
  port: number,
  requestId: string,
  tokens: number,
  delayMs = 0,
  onFirstByte?: () => void,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-tenant': 'contoso',
        'x-request-id': requestId,
        'x-fake-token-delay-ms': String(delayMs),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.once('data', () => onFirstByte?.());
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve(text);
      });
      res.on('error', () => {
        resolve(undefined);
      });
      res.on('aborted', () => {
        resolve(undefined);
      });
    });
    req.on('error', () => {
      resolve(undefined);
    });
    req.end(JSON.stringify({ model: 'fake-model', stream: true, max_tokens: tokens }));
  });
}

/** The crash test's child: the real startSidecar with a file sink, its port sent over IPC. */
async function startChild(sink: string, spool: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/sidecar/crash-child.ts', upstream.href, sink, spool],
    { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] },
  );
  children.push(child);
  const { port } = await new Promise<{ port: number }>((resolve) =>
    child.once('message', (m: { port: number }) => {
      resolve(m);
    }),
  );
  return { child, port };
}

/** `chargeback sidecar` as a process, with a file sink; resolves when it listens. */
async function startCli(sink: string, spool: string, env: Record<string, string> = {}) {
  const child = spawnCli(
    [
      'sidecar',
      '--upstream',
      upstream.href,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--sink',
      `file:${sink}`,
      '--spool',
      spool,
    ],
    {
      env: {
        ...process.env,
        POD_NAME: 'vllm-drain-0',
        GPU_SKU: 'Standard_NC24ads_A100_v4',
        GPU_COUNT: '1',
        MODEL_NAME: 'fake-model',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  const log = { text: '' };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log.text += chunk.toString();
      const match = /proxying 127\.0\.0\.1:(\d+)/.exec(log.text);
      if (match !== null) resolve(Number(match[1]));
    });
    void exited.then(() => {
      reject(new Error(`sidecar exited: ${log.text}`));
    });
  });
  return { child, port, exited, log };
}

describe('a sidecar process killed with SIGKILL under load', () => {
  it('loses no answered request: each has its event in the sink, or in the journal the next process replays', async () => {
    const sink = mkdtempSync(join(tmpdir(), 'sink-'));
    const spool = mkdtempSync(join(tmpdir(), 'spool-'));
    const { child, port } = await startChild(sink, spool);
    const answered: string[] = [];
    let killed = false;
    // 16 clients, each sending one request after another until the process is gone.
    const clients = Array.from({ length: 16 }, async (_, c) => {
      for (let i = 0; !killed; i += 1) {
        const id = `kill-${c}-${i}`;
        const body = await stream(port, id, 5);
        if (body?.trimEnd().endsWith('data: [DONE]') === true) answered.push(id);
      }
    });
    // Killed well into the load, as in the report (3.5 s): some batches were delivered, some not.
    await vi.waitFor(
      () => {
        expect(eventsIn(sink).length).toBeGreaterThanOrEqual(300);
      },
      { timeout: 30_000, interval: 20 },
    );
    await new Promise((r) => setTimeout(r, 400)); // less than a flush interval after a delivered batch
    child.kill('SIGKILL'); // no handler runs: what is only in memory dies with the process
    killed = true;
    await once(child, 'exit');
    await Promise.all(clients);

    // The next process on the same spool disk sends what the killed one had not.
    const next = await startChild(sink, spool);
    const seen = () => new Set(eventsIn(sink).map((e) => e.requestId));
    await vi.waitFor(
      () => {
        const missing = answered.filter((id) => !seen().has(id));
        expect(missing, `${missing.length} of ${answered.length} answered requests have no event`).toEqual(
          [],
        );
      },
      { timeout: 20_000, interval: 100 },
    );
    next.child.kill('SIGKILL');
    for (const e of eventsIn(sink).filter((e) => answered.includes(String(e.requestId))))
      expect(e).toMatchObject({ type: 'usage', status: 'ok', completionTokens: 5, tenant: 'contoso' });
  });
});

describe('the sidecar process draining on SIGTERM', () => {
  it('a second SIGTERM does not kill it: the stream in flight is cut off and metered, the last window written', async () => {
    const sink = mkdtempSync(join(tmpdir(), 'sink-'));
    const { child, port, exited, log } = await startCli(sink, mkdtempSync(join(tmpdir(), 'spool-')));
    const cutShort = stream(port, 'req-twice', 200, 25, () => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGTERM'), 300);
    });
    expect(await cutShort).toBeUndefined(); // the client sees the stream end early, not complete
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(log.text).toContain('SIGTERM again while draining: cutting off the requests in flight now');
    const events = eventsIn(sink);
    const usage = events.find((e) => e.requestId === 'req-twice');
    expect(usage).toMatchObject({ status: 'aborted', tenant: 'contoso' });
    expect(usage?.completionTokens).toBeGreaterThan(0);
    expect(usage?.completionTokens).toBeLessThan(200);
    expect(events.some((e) => e.type === 'capacity' && e.pod === 'vllm-drain-0')).toBe(true);
  });

  it('a stream still running at the drain deadline is metered as aborted, then the last window and the flush', async () => {
    const sink = mkdtempSync(join(tmpdir(), 'sink-'));
    const spool = mkdtempSync(join(tmpdir(), 'spool-'));
    const { child, port, exited, log } = await startCli(sink, spool, { SIDECAR_DRAIN_SECONDS: '1' });
    const finished = stream(port, 'req-deadline', 400, 25, () => child.kill('SIGTERM')); // 10 s of tokens
    expect(await finished).toBeUndefined();
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(log.text).toMatch(/drain deadline \(1 s\) passed; 1 request\(s\) in flight cut off/);
    const events = eventsIn(sink);
    const usage = events.find((e) => e.requestId === 'req-deadline');
    expect(usage).toMatchObject({ status: 'aborted', tenant: 'contoso' });
    expect(usage?.completionTokens).toBeGreaterThan(0);
    expect(usage?.completionTokens).toBeLessThan(400);
    const capacity = events.filter((e) => e.type === 'capacity');
    expect(capacity.length).toBeGreaterThan(0);
    // The last window reaches the cut-off: it ends no earlier than the usage event.
    const lastEnd = Math.max(...capacity.map((e) => Date.parse(String(e.windowEnd))));
    expect(lastEnd).toBeGreaterThanOrEqual(Date.parse(String(usage?.finishedAt)));
    // Everything was delivered: no journal or spool is left for a next process.
    expect(readdirSync(spool)).toEqual([]);
  });
});
