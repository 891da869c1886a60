import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { parseEvent } from '../../src/domain/events.js';
import type { ProxyDeps } from '../../src/sidecar/proxy-deps.js';
import { startTestProxy, type RunningProxy } from './proxy-harness.js';

/**
 * Metering that cannot be dodged: every route on which vLLM spends GPU time gives one usage event
 * in its own usage format, a stream cut early is charged at least what it streamed, an answer
 * whose usage cannot be read is an error with its reason, and a route the sidecar does not know is
 * refused rather than served unmetered.
 */

type Running = RunningProxy;

const running: Running[] = [];

/** Classes interactive (priority 0) and batch (10). */
async function startProxy(upstream: URL, more: Partial<ProxyDeps> = {}): Promise<Running> {
  const r = await startTestProxy(upstream, {
    priorities: new Map([
      ['interactive', 0],
      ['batch', 10],
    ]),
    ...more,
  });
  running.push(r);
  return r;
}

const vllm = new FakeVllm();
let upstream: URL;
let sidecar: Running;

beforeAll(async () => {
  upstream = await vllm.start();
  sidecar = await startProxy(upstream);
});

afterAll(async () => {
  for (const r of running) await r.stop();
  await vllm.stop();
});

let counter = 0;

/** Sends a request through the sidecar and returns the answer's text and the request's one usage event. */
async function call(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  on: Running = sidecar,
): Promise<{ status: number; text: string; event: Record<string, unknown> | undefined; id: string }> {
  counter += 1;
  const id = `route-${counter}`;
  const multipart = typeof body === 'string';
  const response = await fetch(`${on.base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': multipart ? 'multipart/form-data; boundary=XyZ' : 'application/json',
      'x-tenant': 'contoso',
      'x-feature': 'search',
      'x-request-id': id,
      ...headers,
    },
    body: multipart ? body : JSON.stringify(body),
  });
  let text = '';
  try {
    text = await response.text();
  } catch {
    // a cut answer: what the client got is not the point here
  }
  const event = await eventually(() => on.events.find((e) => e.requestId === id));
  return { status: response.status, text, event, id };
}

async function eventually<T>(find: () => T | undefined): Promise<T | undefined> {
  for (let i = 0; i < 200; i += 1) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

/** The event is one that ingestion accepts (contracts.md §2), and its figures. */
function accepted(event: Record<string, unknown> | undefined): Record<string, unknown> {
  expect(event).toBeDefined();
  const parsed = parseEvent(JSON.stringify(event));
  expect(parsed).not.toHaveProperty('error');
  return event as Record<string, unknown>;
}

const form = (fields: Record<string, string>): string =>
  Object.entries(fields)
    .map(([k, v]) => `--XyZ\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('') +
  '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF....\r\n--XyZ--\r\n';

describe('every GPU route is metered in its own usage format', () => {
  // vLLM reports a cached count on chat, completions and the Responses API; Anthropic, generate and
  // pooling answers never carry one, and the event says it is unknown rather than 0.
  it.each([
    ['/v1/responses', { model: 'fake-model', input: 'hi' }, 12, 4, 3],
    ['/v1/responses', { model: 'fake-model', input: 'hi', stream: true }, 12, 4, 3],
    ['/v1/messages', { model: 'fake-model', max_tokens: 4, messages: [] }, 12, 4, undefined],
    ['/v1/messages', { model: 'fake-model', max_tokens: 4, messages: [], stream: true }, 12, 4, undefined],
    ['/inference/v1/generate', { model: 'fake-model', token_ids: [1, 2] }, 12, 4, undefined],
    ['/inference/v1/generate', { model: 'fake-model', token_ids: [1, 2], stream: true }, 12, 4, undefined],
    ['/v1/embeddings', { model: 'fake-model', input: 'x' }, 12, 0, undefined],
    ['/v1/embeddings', { model: 'fake-model', input: 'x', encoding_format: 'bytes' }, 12, 0, undefined],
    ['/pooling', { model: 'fake-model', input: 'x' }, 12, 0, undefined],
    ['/classify', { model: 'fake-model', input: 'x' }, 12, 0, undefined],
    ['/score', { model: 'fake-model', text_1: 'a', text_2: 'b' }, 12, 0, undefined],
    ['/v1/score', { model: 'fake-model', text_1: 'a', text_2: 'b' }, 12, 0, undefined],
    ['/rerank', { model: 'fake-model', query: 'a', documents: ['b'] }, 12, 0, undefined],
    ['/v1/rerank', { model: 'fake-model', query: 'a', documents: ['b'] }, 12, 0, undefined],
    ['/v2/rerank', { model: 'fake-model', query: 'a', documents: ['b'] }, 12, 0, undefined],
    ['/invocations', { model: 'fake-model', input: 'x' }, 12, 0, undefined],
    ['/invocations', { model: 'fake-model', messages: [] }, 12, 8, 3],
    ['/v1/chat/completions/batch', { model: 'fake-model', messages: [[]] }, 12, 8, 3],
  ])('%s %j: one ok usage event with its tokens', async (path, body, prompt, completion, cached) => {
    const { status, event } = await call(path, body, { 'x-fake-cached-tokens': '3' });
    expect(status).toBe(200);
    expect(accepted(event)).toMatchObject({
      status: 'ok',
      promptTokens: prompt,
      completionTokens: completion,
      cachedPromptTokens: cached ?? 0,
    });
    expect(event?.attributes).toEqual(cached === undefined ? { cachedPromptTokens: 'unknown' } : undefined);
  });

  it('the Responses stream reaches the client as it came, its usage and cached count from response.completed', async () => {
    const { text, event } = await call(
      '/v1/responses',
      { model: 'fake-model', input: 'hi', stream: true },
      { 'x-fake-cached-tokens': '5', 'x-fake-tokens': '6' },
    );
    expect(text).toContain('event: response.completed');
    expect(text.match(/response\.output_text\.delta/g)?.length).toBe(12); // event and type, six deltas
    expect(event).toMatchObject({
      promptTokens: 12,
      completionTokens: 6,
      cachedPromptTokens: 5,
      status: 'ok',
    });
    expect(event?.firstTokenAt).not.toBeNull();
  });

  it('audio transcription is metered by its time, with the seconds vLLM reports', async () => {
    const { status, event } = await call('/v1/audio/transcriptions', form({ model: 'whisper' }));
    expect(status).toBe(200);
    expect(accepted(event)).toMatchObject({ status: 'ok', attributes: { audioSeconds: '3', usage: 'none' } });
    const seen = vllm.seen.at(-1);
    expect(String(seen?.body.multipart)).toContain('filename="a.wav"'); // forwarded as it came
  });

  it('a streamed transcription is counted from its chunks', async () => {
    const { event } = await call('/v1/audio/translations', form({ model: 'whisper', stream: 'true' }), {
      'x-fake-tokens': '5',
    });
    expect(accepted(event)).toMatchObject({
      status: 'ok',
      completionTokens: 5,
      attributes: { usage: 'streamed' },
    });
  });

  it('a background response, whose generation the sidecar could never see, is refused before vLLM', async () => {
    const before = vllm.seen.length;
    const { status, text, event } = await call('/v1/responses', {
      model: 'fake-model',
      input: 'x',
      background: true,
    });
    expect(status).toBe(400);
    expect(text).toContain('background');
    expect(vllm.seen.length).toBe(before);
    expect(event).toBeUndefined();
  });

  it('an /invocations body no handler takes is refused', async () => {
    const { status, text } = await call('/invocations', { model: 'fake-model' });
    expect(status).toBe(400);
    expect(text).toContain('/invocations');
  });
});

describe('routes that are not metered', () => {
  it.each([
    ['POST', '/v1/some/new/generation'],
    ['POST', '/cohere/v2/chat'],
    ['POST', '/sleep'],
    ['PUT', '/v1/chat/completions'],
  ])('%s %s is refused on a generation pod, and nothing reaches vLLM', async (method, path) => {
    const before = vllm.seen.length;
    const response = await fetch(`${sidecar.base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-tenant': 'contoso' },
      body: '{"model":"fake-model","prompt":"x"}',
    });
    expect([404, 405]).toContain(response.status);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(path);
    expect(vllm.seen.length).toBe(before);
  });

  it('passes no-GPU routes through, and a route configured as pass-through', async () => {
    expect((await fetch(`${sidecar.base}/v1/models`)).status).toBe(200);
    const configured = await startProxy(upstream, { routes: { passThrough: ['POST /sleep'], refused: [] } });
    const response = await fetch(`${configured.base}/sleep`, { method: 'POST', body: '{"model":"x"}' });
    expect(response.status).toBe(200);
    await response.text();
    expect(configured.events).toEqual([]);
  });

  it('refuses a metered route that the configuration refuses, with 403', async () => {
    const configured = await startProxy(upstream, {
      routes: { passThrough: [], refused: ['/v1/audio/transcriptions'] },
    });
    const before = vllm.seen.length;
    const response = await fetch(`${configured.base}/v1/audio/transcriptions`, {
      method: 'POST',
      body: form({}),
    });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('by configuration');
    expect(vllm.seen.length).toBe(before);
  });
});

describe('streams cut before their final usage are charged what they streamed', () => {
  it('a chat stream with n=8 cut after its last content chunk records all 80 completion tokens', async () => {
    const { event } = await call(
      '/v1/chat/completions',
      { model: 'fake-model', n: 8, stream: true, messages: [] },
      { 'x-fake-tokens': '10', 'x-fake-cut-after': '10' },
    );
    expect(accepted(event)).toMatchObject({
      status: 'error',
      promptTokens: 12,
      completionTokens: 80,
      attributes: { usage: 'streamed', cachedPromptTokens: 'unknown', metering: 'stream-cut' },
    });
  });

  it('a completions request with 50 prompts cut at the end records all 5,000 prompt tokens', async () => {
    const { event } = await call(
      '/v1/completions',
      { model: 'fake-model', prompt: Array.from({ length: 50 }, (_, i) => `p${i}`), stream: true },
      { 'x-fake-tokens': '2', 'x-fake-prompt-tokens': '100', 'x-fake-cut-after': '2' },
    );
    expect(accepted(event)).toMatchObject({ promptTokens: 5000, completionTokens: 100, status: 'error' });
  });

  it('the same streams, not cut, are charged the engine totals with their cached count', async () => {
    const chat = await call(
      '/v1/chat/completions',
      { model: 'fake-model', n: 8, stream: true, messages: [] },
      { 'x-fake-tokens': '10', 'x-fake-cached-tokens': '4' },
    );
    expect(chat.event).toMatchObject({ status: 'ok', completionTokens: 80, cachedPromptTokens: 4 });
    expect(chat.event?.attributes).toBeUndefined();
    // The client asked for no usage: none of the sidecar's reaches it.
    expect(chat.text).not.toContain('"usage"');
    const completions = await call(
      '/v1/completions',
      { model: 'fake-model', prompt: ['a', 'b', 'c'], n: 2, stream: true },
      { 'x-fake-tokens': '3', 'x-fake-prompt-tokens': '7' },
    );
    expect(completions.event).toMatchObject({ status: 'ok', promptTokens: 21, completionTokens: 18 });
  });

  it('a client gone after the last content chunk is charged every choice (aborted)', async () => {
    const controller = new AbortController();
    counter += 1;
    const id = `route-${counter}`;
    const response = await fetch(`${sidecar.base}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'x-tenant': 'contoso',
        'x-request-id': id,
        'x-fake-tokens': '6',
        'x-fake-token-delay-ms': '20',
      },
      body: JSON.stringify({ model: 'fake-model', n: 4, stream: true, messages: [] }),
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    let seen = '';
    while (reader !== undefined && (seen.match(/"content":"tok /g)?.length ?? 0) < 8) {
      const { value } = await reader.read();
      seen += Buffer.from(value ?? new Uint8Array()).toString();
    }
    controller.abort();
    const event = await eventually(() => sidecar.events.find((e) => e.requestId === id));
    expect(event?.status).toBe('aborted');
    // Two steps of four choices were relayed: at least 8 tokens, never the one choice's 2.
    expect(Number(event?.completionTokens)).toBeGreaterThanOrEqual(8);
  });

  it('a Responses stream cut early says its prompt and cached counts are unknown', async () => {
    const { event } = await call(
      '/v1/responses',
      { model: 'fake-model', input: 'x', stream: true },
      { 'x-fake-tokens': '6', 'x-fake-cut-after': '3' },
    );
    expect(accepted(event)).toMatchObject({
      status: 'error',
      completionTokens: 3,
      attributes: { promptTokens: 'unknown', cachedPromptTokens: 'unknown', usage: 'streamed' },
    });
  });

  it('an Anthropic stream cut early keeps the input tokens message_start gave', async () => {
    const { event } = await call(
      '/v1/messages',
      { model: 'fake-model', max_tokens: 8, messages: [], stream: true },
      { 'x-fake-tokens': '8', 'x-fake-cut-after': '5' },
    );
    expect(accepted(event)).toMatchObject({ status: 'error', promptTokens: 12, completionTokens: 5 });
  });
});

describe('answers without usage are said, never 0 tokens ok', () => {
  it.each([
    ['/v1/chat/completions', { model: 'fake-model', messages: [] }],
    ['/v1/completions', { model: 'fake-model', prompt: 'x' }],
    ['/v1/responses', { model: 'fake-model', input: 'x' }],
    ['/v1/messages', { model: 'fake-model', max_tokens: 4, messages: [] }],
    ['/inference/v1/generate', { model: 'fake-model', token_ids: [1] }],
    ['/v1/embeddings', { model: 'fake-model', input: 'x' }],
  ])(
    '%s: a 200 answer without usage is an error event with the reason, counted and logged',
    async (path, body) => {
      const { status, event } = await call(path, body, { 'x-fake-no-usage': '1' });
      expect(status).toBe(200); // the client still gets its answer
      expect(accepted(event)).toMatchObject({
        status: 'error',
        httpStatus: 200,
        attributes: { metering: 'usage-not-reported' },
      });
      expect(sidecar.logs.some((l) => l.includes(String(event?.requestId)) && l.includes('no usage'))).toBe(
        true,
      );
      const text = await sidecar.metrics.registry.metrics();
      expect(text).toMatch(
        /chargeback_sidecar_metering_gaps_total\{protocol="[a-z]+",reason="usage-not-reported"\} [1-9]/,
      );
    },
  );

  it('a streamed answer without usage is counted from its chunks and said so', async () => {
    const { event } = await call(
      '/v1/chat/completions',
      { model: 'fake-model', stream: true, messages: [] },
      { 'x-fake-no-usage': '1', 'x-fake-tokens': '7' },
    );
    expect(event).toMatchObject({
      status: 'error',
      completionTokens: 7,
      attributes: { metering: 'usage-not-reported', usage: 'streamed' },
    });
  });

  it('a 200 answer that is not JSON is an error event naming why', async () => {
    const { status, text, event } = await call(
      '/v1/chat/completions',
      { model: 'fake-model', messages: [] },
      { 'x-fake-not-json': '1' },
    );
    expect(status).toBe(200);
    expect(text).toBe('upstream says ok');
    expect(accepted(event)).toMatchObject({ status: 'error', attributes: { metering: 'not-json' } });
  });

  it('a plain-text transcription is not an error: its time is metered, tokens not reported', async () => {
    const { event } = await call('/v1/audio/transcriptions', form({ response_format: 'text' }));
    expect(event).toMatchObject({
      status: 'ok',
      promptTokens: 0,
      completionTokens: 0,
      attributes: { usage: 'none' },
    });
  });
});

describe("vLLM's per-request metrics", () => {
  it("place the first token by the engine's generation time, and give the queue time", async () => {
    const { event } = await call(
      '/v1/chat/completions',
      { model: 'fake-model', stream: true, messages: [] },
      { 'x-fake-tokens': '5', 'x-fake-token-delay-ms': '30', 'x-fake-queue-ms': '17' },
    );
    const finished = Date.parse(String(event?.finishedAt));
    const first = Date.parse(String(event?.firstTokenAt));
    expect(event?.queueMs).toBe(17);
    // generation_time_ms = 5 x 30: the first token 150 ms before the end (clamped to the request).
    expect(finished - first).toBe(Math.min(150, finished - Date.parse(String(event?.startedAt))));
  });

  it('fall back to the sidecar clock when vLLM gives none (n > 1)', async () => {
    const { event } = await call(
      '/v1/chat/completions',
      { model: 'fake-model', n: 2, stream: true, messages: [] },
      { 'x-fake-queue-ms': '17' },
    );
    expect(event?.queueMs).toBeUndefined();
    expect(event?.firstTokenAt).not.toBeNull();
  });
});

describe('answers of any size, in bounded memory', () => {
  it('relays a 20 MB plain answer whole and meters its usage', async () => {
    const { text, event } = await call(
      '/v1/chat/completions',
      { model: 'fake-model', messages: [] },
      { 'x-fake-answer-padding': String(20 * 1024 * 1024) },
    );
    expect(text.length).toBeGreaterThan(20 * 1024 * 1024);
    expect(event).toMatchObject({ status: 'ok', promptTokens: 12, completionTokens: 8 });
  });

  it('relays a stream event over the bound unread, counts it, and still meters the stream', async () => {
    const small = await startProxy(upstream, { maxStreamEventChars: 64 * 1024 });
    const { text, event } = await call(
      '/v1/chat/completions',
      { model: 'fake-model', stream: true, messages: [] },
      { 'x-fake-event-padding': String(1024 * 1024), 'x-fake-tokens': '4' },
      small,
    );
    expect(text).toContain('l'.repeat(1024 * 1024)); // the client gets the event as it came
    expect(event).toMatchObject({
      status: 'ok',
      completionTokens: 4,
      attributes: { unreadStreamEvents: '1' },
    });
    expect(await small.metrics.registry.metrics()).toMatch(/reason="unread-event"\} 1/);
  });
});

describe('priority', () => {
  it.each([
    ['interactive', 0],
    ['batch', 10],
    ['made-up', 10], // an unknown class gets the least urgent configured priority
  ])('class %s is sent priority %d whatever the client put in the body', async (requestClass, priority) => {
    await call(
      '/v1/chat/completions',
      { model: 'fake-model', messages: [], priority: -1000 },
      { 'x-request-class': requestClass },
    );
    expect(vllm.seen.at(-1)?.body.priority).toBe(priority);
  });

  it('with no priorities configured, the client priority is removed', async () => {
    const plain = await startProxy(upstream, { priorities: new Map() });
    await call('/v1/responses', { model: 'fake-model', input: 'x', priority: -1000 }, {}, plain);
    expect(vllm.seen.at(-1)?.body).not.toHaveProperty('priority');
  });
});

describe('cutting off what is in flight', () => {
  it('closes the connections and meters each stream as aborted, saying it was cut off', async () => {
    const cutting = await startProxy(upstream);
    const port = cutting.port;
    const streams = [1, 2, 3].map(async (i) => {
      const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'x-tenant': 'contoso',
          'x-request-id': `cut-${i}`,
          'x-fake-tokens': '500',
          'x-fake-token-delay-ms': '10',
        },
        body: JSON.stringify({ model: 'fake-model', stream: true, messages: [] }),
      });
      const reader = response.body?.getReader();
      await reader?.read(); // the stream has started
      return reader;
    });
    const readers = await Promise.all(streams);
    expect(cutting.cutOff('the drain deadline passed')).toBe(3);
    await cutting.idle();
    for (const reader of readers) await reader?.cancel().catch(() => undefined);
    expect(
      cutting.events
        .map((e) => [e.requestId, e.status, (e.attributes as Record<string, string>).metering])
        .sort(),
    ).toEqual([
      ['cut-1', 'aborted', 'cut-off'],
      ['cut-2', 'aborted', 'cut-off'],
      ['cut-3', 'aborted', 'cut-off'],
    ]);
  });
});
