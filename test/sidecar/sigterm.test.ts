import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { spawnCli } from '../helpers/cli.js';

const vllm = new FakeVllm();
let upstream: URL;

beforeAll(async () => {
  upstream = await vllm.start();
});
afterAll(() => vllm.stop());

describe('the sidecar process on SIGTERM', () => {
  it('finishes the stream in flight, sends the last capacity window, flushes and exits 0', async () => {
    const sink = mkdtempSync(join(tmpdir(), 'sink-'));
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
        mkdtempSync(join(tmpdir(), 'spool-')),
      ],
      {
        env: {
          ...process.env,
          POD_NAME: 'vllm-term-0',
          GPU_SKU: 'Standard_NC24ads_A100_v4',
          GPU_COUNT: '1',
          MODEL_NAME: 'fake-model',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /proxying 127\.0\.0\.1:(\d+)/.exec(stderr);
        if (match !== null) resolve(Number(match[1]));
      });
      child.once('exit', () => {
        reject(new Error(`sidecar exited: ${stderr}`));
      });
    });
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        resolve(code);
      }),
    );

    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-tenant': 'contoso',
          'x-request-id': 'req-term-1',
          'x-fake-token-delay-ms': '25',
        },
      });
      req.on('response', (res) => {
        let text = '';
        let signalled = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (!signalled) {
            signalled = true;
            child.kill('SIGTERM'); // mid-stream
          }
        });
        res.on('end', () => {
          resolve(text);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'fake-model', stream: true, max_tokens: 30 }));
    });

    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(body.split('"content":"tok "').length - 1).toBe(30);
    expect(await exited).toBe(0);
    const lines = readdirSync(sink)
      .flatMap((f) => readFileSync(join(sink, f), 'utf8').split('\n'))
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((e) => e.requestId === 'req-term-1')).toMatchObject({
      status: 'ok',
      completionTokens: 30,
      tenant: 'contoso',
    });
    expect(lines.some((e) => e.type === 'capacity' && e.pod === 'vllm-term-0')).toBe(true);

    // The file sink is what the command line reads: the request is charged, covered by the windows.
    const day = String(lines.find((e) => e.requestId === 'req-term-1')?.finishedAt).slice(0, 10);
    const out = mkdtempSync(join(tmpdir(), 'report-'));
    const sinkStream = { write: () => true } as unknown as NodeJS.WritableStream;
    const code = await main(
      ['report', '--events', sink, '--prices', 'prices/azure-a100.json', '--date', day, '--out', out],
      { stdout: sinkStream, stderr: sinkStream },
    );
    expect(code).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, `summary-${day}.json`), 'utf8')) as Record<
      string,
      number
    >;
    expect(summary).toMatchObject({ usageEvents: 1, rejected: 0, unmeteredRequests: 0 });
    expect(readFileSync(join(out, `chargeback-${day}.csv`), 'utf8')).toMatch(
      /\n\d{4}-\d\d-\d\d,contoso,unspecified,fake-model,interactive,1,0,12,30,0,/,
    );
  });
});
