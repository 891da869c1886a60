import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/domain/events.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../../dev/free-port.js';
import { FakeVllm } from '../../dev/fake-vllm.js';
import type { Sender } from '../../src/sidecar/pipe.js';
import { loadSidecarSettings } from '../../src/sidecar/settings.js';
import { startSidecar, type RunningSidecar } from '../../src/sidecar/sidecar.js';

class MemorySender implements Sender {
  readonly events: Record<string, unknown>[] = [];
  send(events: readonly Record<string, unknown>[]): Promise<void> {
    this.events.push(...events);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const vllm = new FakeVllm();
const sender = new MemorySender();
const requestLines: string[] = [];
let sidecar: RunningSidecar;
let base: string;

beforeAll(async () => {
  const upstream = await vllm.start();
  const settings = loadSidecarSettings(
    {
      upstream: upstream.href,
      listen: '127.0.0.1:0',
      adminListen: '127.0.0.1:0',
      sink: 'file:/unused',
      spoolDir: mkdtempSync(join(tmpdir(), 'spool-')),
    },
    {
      POD_NAME: 'vllm-0',
      GPU_SKU: 'Standard_NC24ads_A100_v4',
      GPU_COUNT: '1',
      MODEL_NAME: 'fake-model',
      SIDECAR_PRIORITIES: 'interactive=0,batch=10',
    },
  );
  sidecar = await startSidecar(
    settings,
    sender,
    () => undefined,
    (line) => requestLines.push(line),
  );
  base = `http://127.0.0.1:${(sidecar.proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await sidecar.shutdown();
  await vllm.stop();
});

const WHO = { 'x-tenant': 'Tailwind, "Retail" Ltd', 'x-feature': 'chat', 'x-request-class': 'interactive' };

async function post(path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...WHO, ...headers },
    body: JSON.stringify({ model: 'fake-model', ...body }),
  });
  return { response, text: await response.text() };
}

/** The usage event of a request id, once the pipe has sent it. */
async function eventOf(requestId: string): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(
    async () => {
      await sidecar.pipe.drain();
      found = sender.events.find((e) => e.requestId === requestId);
      return found !== undefined;
    },
    { timeoutMs: 10_000, what: `the usage event of ${requestId}` },
  );
  if (found === undefined) throw new Error(`no event for ${requestId}`);
  return found;
}

const dataEvents = (text: string): unknown[] =>
  text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6))
    .map((d) => (d === '[DONE]' ? d : (JSON.parse(d) as unknown)));

describe('the request log line', () => {
  it('is one JSON line per request with its id, attribution, status, tokens and times, and no text', async () => {
    const marker = 'PROMPT-MARKER-7f3a9c';
    await post(
      '/v1/chat/completions',
      { max_tokens: 3, messages: [{ role: 'user', content: marker }] },
      { 'x-request-id': 'req-log-1', 'x-tenant': 'evil","tenant":"forged"}' },
    );
    const event = await eventOf('req-log-1');
    const mine = requestLines.filter((l) => l.includes('req-log-1'));
    expect(mine).toHaveLength(1);
    expect(mine[0]).not.toContain('\n');
    expect(JSON.parse(mine[0] ?? '{}')).toMatchObject({
      msg: 'request',
      requestId: 'req-log-1',
      eventId: event.eventId,
      tenant: 'evil","tenant":"forged"}',
      feature: 'chat',
      requestClass: 'interactive',
      status: 'ok',
      promptTokens: event.promptTokens,
      completionTokens: event.completionTokens,
      durationMs: expect.any(Number),
    });
    expect(requestLines.join('\n')).not.toContain(marker);
  });
});

describe('sidecar proxy with a fake vLLM', () => {
  it('meters a non-streaming request: usage, cached tokens, queue time, and the body passes unchanged', async () => {
    const { response, text } = await post(
      '/v1/chat/completions',
      { max_tokens: 5 },
      { 'x-request-id': 'req-plain-1', 'x-fake-cached-tokens': '4', 'x-fake-queue-ms': '7' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('req-plain-1');
    expect(JSON.parse(text)).toMatchObject({ usage: { prompt_tokens: 12, completion_tokens: 5 } });
    const event = await eventOf('req-plain-1');
    expect(parseEvent(event).ok).toBe(true);
    expect(event).toMatchObject({
      tenant: 'Tailwind, "Retail" Ltd',
      feature: 'chat',
      requestClass: 'interactive',
      pod: 'vllm-0',
      gpuSku: 'Standard_NC24ads_A100_v4',
      promptTokens: 12,
      completionTokens: 5,
      cachedPromptTokens: 4,
      queueMs: 7,
      status: 'ok',
      httpStatus: 200,
    });
    expect(event.firstTokenAt).not.toBeNull();
  });

  it('sets a request id when the client sends none or an invalid one, and vLLM sees the same id', async () => {
    const { response } = await post(
      '/v1/completions',
      { prompt: 'hi' },
      { 'x-request-id': 'bad id with spaces' },
    );
    const id = response.headers.get('x-request-id') ?? '';
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(vllm.seen.at(-1)?.headers['x-request-id']).toBe(id);
    expect((await eventOf(id)).status).toBe('ok');
  });

  it('streams without the usage chunks the client did not ask for, and still meters the tokens', async () => {
    const { text, response } = await post(
      '/v1/chat/completions',
      { stream: true, max_tokens: 6 },
      { 'x-request-id': 'req-stream-1' },
    );
    const events = dataEvents(text);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.some((e) => typeof e === 'object' && e !== null && 'usage' in e)).toBe(false);
    expect(vllm.seen.at(-1)?.body.stream_options).toEqual({
      include_usage: true,
      continuous_usage_stats: true,
    });
    expect(response.status).toBe(200);
    const event = await eventOf('req-stream-1');
    expect(event).toMatchObject({ completionTokens: 6, promptTokens: 12, status: 'ok', queueMs: 3 });
    expect(Date.parse(String(event.firstTokenAt))).toBeGreaterThanOrEqual(
      Date.parse(String(event.startedAt)),
    );
    expect(Date.parse(String(event.firstTokenAt))).toBeLessThanOrEqual(Date.parse(String(event.finishedAt)));
  });

  it('keeps the final usage chunk when the client asked for it, but not usage on every chunk', async () => {
    const { text } = await post(
      '/v1/chat/completions',
      { stream: true, max_tokens: 3, stream_options: { include_usage: true } },
      { 'x-request-id': 'req-stream-2' },
    );
    const objects = dataEvents(text).filter(
      (e): e is Record<string, unknown> => typeof e === 'object' && e !== null,
    );
    const withUsage = objects.filter((e) => 'usage' in e);
    expect(withUsage.length).toBe(1);
    expect(withUsage[0]).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
    expect((await eventOf('req-stream-2')).completionTokens).toBe(3);
  });

  it('keeps usage on every chunk for a client that asked for continuous usage', async () => {
    const { text } = await post(
      '/v1/chat/completions',
      { stream: true, max_tokens: 4, stream_options: { include_usage: true, continuous_usage_stats: true } },
      { 'x-request-id': 'req-stream-3' },
    );
    const chunks = dataEvents(text).filter(
      (e): e is { usage?: { completion_tokens: number } } => typeof e === 'object' && e !== null,
    );
    expect(chunks.map((c) => c.usage?.completion_tokens)).toEqual([0, 1, 2, 3, 4, 4]);
    expect((await eventOf('req-stream-3')).completionTokens).toBe(4);
  });

  it('refuses a request that names no tenant, naming the header, and publishes nothing for it', async () => {
    const before = sender.events.length;
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('x-tenant');
    await sidecar.pipe.drain();
    expect(sender.events.slice(before).filter((e) => e.type === 'usage').length).toBe(0);
  });

  it('maps the request class to vLLM priority', async () => {
    await post(
      '/v1/completions',
      { prompt: 'x' },
      { 'x-request-class': 'batch', 'x-request-id': 'req-batch-1' },
    );
    expect(vllm.seen.at(-1)?.body.priority).toBe(10);
    await post('/v1/completions', { prompt: 'x' }, { 'x-request-id': 'req-int-1' });
    expect(vllm.seen.at(-1)?.body.priority).toBe(0);
  });

  it('an error inside a stream is metered as error with the tokens so far', async () => {
    await post(
      '/v1/chat/completions',
      { stream: true, max_tokens: 10 },
      { 'x-request-id': 'req-err-1', 'x-fake-error-after': '4' },
    );
    expect(await eventOf('req-err-1')).toMatchObject({ status: 'error', completionTokens: 4 });
  });

  it('a stream cut off by vLLM is metered as error', async () => {
    await post(
      '/v1/chat/completions',
      { stream: true, max_tokens: 10 },
      { 'x-request-id': 'req-cut-1', 'x-fake-cut-after': '2' },
    ).catch(() => undefined);
    expect((await eventOf('req-cut-1')).status).toBe('error');
  });

  it('a client that disconnects mid-stream aborts the upstream request and is metered as aborted', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...WHO,
          'x-request-id': 'req-abort-1',
          'x-fake-token-delay-ms': '20',
        },
      });
      req.on('response', (res) => {
        let received = 0;
        res.on('data', () => {
          received += 1;
          if (received === 3) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'fake-model', stream: true, max_tokens: 200 }));
    });
    const event = await eventOf('req-abort-1');
    expect(event.status).toBe('aborted');
    expect(Number(event.completionTokens)).toBeGreaterThan(0);
    expect(Number(event.completionTokens)).toBeLessThan(200);
    await waitFor(
      () => vllm.seen.find((s) => s.headers['x-request-id'] === 'req-abort-1')?.aborted === true,
      {
        timeoutMs: 10_000,
        what: 'vLLM to see the abort',
      },
    );
    expect(vllm.seen.find((s) => s.headers['x-request-id'] === 'req-abort-1')?.aborted).toBe(true);
  });

  it('a client that reads slowly holds vLLM back instead of piling the stream up in the sidecar', async () => {
    // About 40 MB of events, far more than the kernel buffers of both loopback hops take in.
    const tokens = 10_000;
    const limit = 4 * 1024 * 1024;
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(`${base}/v1/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...WHO,
          'x-request-id': 'req-slow-1',
          'x-fake-token-padding': '4000',
        },
      });
      req.on('response', (res) => {
        res.pause();
        // The client reads nothing until vLLM holds a backlog, or until vLLM has handed over the
        // whole stream (which happens only when something between them reads on regardless).
        const started = Date.now();
        const poll = setInterval(() => {
          const seen = vllm.seen.find((s) => s.headers['x-request-id'] === 'req-slow-1');
          if (
            seen === undefined ||
            (seen.maxBuffered <= limit && !seen.written && Date.now() - started < 30_000)
          )
            return;
          clearInterval(poll);
          const parts: string[] = [];
          res.setEncoding('utf8');
          res.on('data', (d: string) => parts.push(d));
          res.on('end', () => {
            resolve(parts.join(''));
          });
          res.resume();
        }, 20);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'fake-model', stream: true, max_tokens: tokens, prompt: 'x' }));
    });
    expect(text.split(`"text":"tok ${'x'.repeat(4000)}"`).length - 1).toBe(tokens);
    // The sidecar stopped reading: the stream waited in vLLM's (here the fake's) send buffer.
    const seen = vllm.seen.find((s) => s.headers['x-request-id'] === 'req-slow-1');
    expect(seen?.maxBuffered).toBeGreaterThan(limit);
    expect((await eventOf('req-slow-1')).completionTokens).toBe(tokens);
  }, 60_000);

  it('passes other routes through untouched, vLLM metrics included', async () => {
    const models = await fetch(`${base}/v1/models`);
    expect(await models.json()).toMatchObject({ data: [{ id: 'fake-model' }] });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('vllm:num_requests_waiting');
  });

  it('passes a request body through to routes on which vLLM does no model work, unchanged', async () => {
    const body = JSON.stringify({ model: 'fake-model', prompt: 'Zürich', stream: false });
    const response = await fetch(`${base}/tokenize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(200);
    await response.text();
    const seen = vllm.seen.at(-1);
    expect(seen?.path).toBe('/tokenize');
    expect(seen?.body).toEqual(JSON.parse(body));
    expect(seen?.body.stream_options).toBeUndefined();
  });

  it('serves its own metrics on the admin port', async () => {
    const admin = `http://127.0.0.1:${(sidecar.admin.address() as AddressInfo).port}`;
    const text = await (await fetch(`${admin}/metrics`)).text();
    expect(text).toMatch(/chargeback_sidecar_requests_total\{request_class="interactive",status="ok"\} \d+/);
    expect(text).toContain('chargeback_sidecar_added_latency_seconds_bucket');
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
  });
});

describe('sidecar proxy with vLLM down', () => {
  it('answers 502 naming the upstream, and meters the attempt as an error', async () => {
    const closed = await freePort();
    const down = new MemorySender();
    const settings = loadSidecarSettings(
      {
        upstream: `http://127.0.0.1:${closed}`,
        listen: '127.0.0.1:0',
        adminListen: '127.0.0.1:0',
        sink: 'file:/unused',
        spoolDir: mkdtempSync(join(tmpdir(), 'spool-')),
      },
      { POD_NAME: 'vllm-9', GPU_SKU: 'Standard_NC24ads_A100_v4', GPU_COUNT: '1', MODEL_NAME: 'm' },
    );
    const lonely = await startSidecar(
      settings,
      down,
      () => undefined,
      () => undefined,
    );
    try {
      const url = `http://127.0.0.1:${(lonely.proxy.address() as AddressInfo).port}/v1/completions`;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...WHO, 'x-request-id': 'req-down-1' },
        body: JSON.stringify({ model: 'm', prompt: 'x', stream: true }),
      });
      expect(response.status).toBe(502);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
        /^upstream unavailable: .*ECONNREFUSED/,
      );
      await lonely.pipe.drain();
      expect(down.events.find((e) => e.requestId === 'req-down-1')).toMatchObject({
        status: 'error',
        httpStatus: 502,
        completionTokens: 0,
      });
    } finally {
      await lonely.shutdown();
    }
  });
});
