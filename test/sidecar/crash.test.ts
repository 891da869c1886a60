import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';

const vllm = new FakeVllm();
let upstream: URL;

beforeAll(async () => {
  upstream = await vllm.start();
});
afterAll(() => vllm.stop());

/** The events in NDJSON files of a folder (the sink or the spool). */
function eventsIn(dir: string, prefix: string): Record<string, unknown>[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.ndjson'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function complete(port: number, requestId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': 'contoso', 'x-request-id': requestId },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve(text);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'fake-model', stream: true, max_tokens: 5 }));
  });
}

function nextMessage(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve) => child.once('message', resolve));
}

describe('the sidecar process when it crashes', () => {
  it.each(['throw', 'reject'])(
    'keeps the event of every answered request on disk when it dies of an uncaught error (%s)',
    async (how) => {
      const sink = mkdtempSync(join(tmpdir(), 'sink-'));
      const spool = mkdtempSync(join(tmpdir(), 'spool-'));
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/sidecar/crash-child.ts', upstream.href, sink, spool],
        { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
      );
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = once(child, 'exit');
      const { port } = (await nextMessage(child)) as { port: number };

      // Some events reach the sink while the sender works...
      const early = Array.from({ length: 10 }, (_, i) => `req-early-${i}`);
      for (const body of await Promise.all(early.map((id) => complete(port, id))))
        expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
      await vi.waitFor(
        () => {
          expect(eventsIn(sink, 'usage-').length).toBeGreaterThanOrEqual(10);
        },
        { timeout: 20_000, interval: 50 },
      );
      // ...then the sender hangs, as a stalled Event Hubs connection does, and events stay in memory.
      child.send('stall');
      expect(await nextMessage(child)).toBe('stalled');
      const late = Array.from({ length: 20 }, (_, i) => `req-late-${i}`);
      for (const body of await Promise.all(late.map((id) => complete(port, id))))
        expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);

      child.send(how);
      const [code] = (await exited) as [number | null];
      expect(code, stderr).toBe(1);

      const onDisk = [...eventsIn(sink, 'usage-'), ...eventsIn(spool, 'spool-')];
      const answered = onDisk.filter((e) => e.type === 'usage');
      expect(new Set(answered.map((e) => e.requestId))).toEqual(new Set([...early, ...late]));
      for (const e of answered)
        expect(e).toMatchObject({ status: 'ok', completionTokens: 5, tenant: 'contoso' });
      // The pod's time up to the crash is covered: the last capacity window was written too.
      expect(onDisk.some((e) => e.type === 'capacity' && e.pod === 'vllm-crash-0')).toBe(true);
    },
  );
});
