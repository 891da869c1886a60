import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/domain/events.js';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import type { ProxyDeps } from '../../src/sidecar/proxy-deps.js';
import { startTestProxy, type RunningProxy } from './proxy-harness.js';
import { openRaw, postHead, rawExchange, readResponse } from './raw-http.js';

/** Requests a hostile or careless client may send: each is metered exactly, or refused before vLLM. */

type Running = RunningProxy;

const running: Running[] = [];

async function startProxy(upstream: URL, more: Partial<ProxyDeps> = {}): Promise<Running> {
  const r = await startTestProxy(upstream, more);
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

/** Waits (on the event loop, not the clock) until `ready` holds. */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i += 1) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 500 && !ready(); i += 1) await new Promise((r) => setTimeout(r, 10));
  if (!ready()) throw new Error('condition never held');
}

const WHO = 'X-Tenant: contoso';

/** Posts `body` to `path` over a raw socket with a request id and the given extra header lines. */
function post(path: string, id: string, body: Buffer | string, ...lines: string[]) {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return rawExchange(
    sidecar.port,
    postHead(path, bytes.length, `X-Request-Id: ${id}`, ...(lines.length > 0 ? lines : [WHO])),
    bytes,
  );
}

const eventOf = (r: Running, id: string) => r.events.find((e) => e.requestId === id);
const seenOf = (id: string) => vllm.seen.find((s) => s.headers['x-request-id'] === id);
const errorOf = (body: string) => (JSON.parse(body) as { error: { message: string } }).error.message;

describe('request targets are routed as vLLM routes them (percent-decoded, normalised)', () => {
  const chat = [
    '/v1/chat/%63ompletions',
    '/v1/chat/c%6Fmpletions',
    '/v1/chat/c%6fmpletions',
    '/v1%2Fchat%2Fcompletions',
    '/v1%2fchat/completions',
    '//v1//chat///completions',
    '/v1/./chat/completions',
    '/v1/x/../chat/completions',
    '/../v1/chat/completions',
    '/v1/chat/completions/',
    '/v1/chat/completions?stream=false&x=%2F',
    'http://vllm.internal/v1/chat/completions',
    'HTTP://vllm.internal:8000/v1/chat/%63ompletions?a=1',
  ];
  it.each(chat.map((path, i) => [path, `path-chat-${i}`]))(
    '%s is metered as the chat route, and vLLM is sent that route',
    async (path, id) => {
      const response = await post(path, id, '{"model":"fake-model","max_tokens":3}');
      expect(response.status).toBe(200);
      expect(seenOf(id)?.path).toBe('/v1/chat/completions');
      expect(eventOf(sidecar, id)).toMatchObject({ tenant: 'contoso', completionTokens: 3, status: 'ok' });
    },
  );

  it('/invocations, which vLLM routes to the chat or completions handler by the body, is metered', async () => {
    const body = '{"messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":3}';
    expect((await post('/invocations/', 'path-invocations', body)).status).toBe(200);
    expect(seenOf('path-invocations')?.path).toBe('/invocations');
    expect(eventOf(sidecar, 'path-invocations')).toMatchObject({ completionTokens: 3, status: 'ok' });
  });

  it('the completions route too, whichever way it is spelled', async () => {
    const response = await post('/v1/%63ompletions', 'path-cmpl', '{"prompt":"x","max_tokens":2}');
    expect(response.status).toBe(200);
    expect(seenOf('path-cmpl')?.path).toBe('/v1/completions');
    expect(eventOf(sidecar, 'path-cmpl')).toMatchObject({ completionTokens: 2, status: 'ok' });
  });

  it('a query string goes upstream as it came', async () => {
    await post('/v1/chat/completions?a=%2F&b', 'path-query', '{"max_tokens":1}');
    expect(vllm.seen.length).toBeGreaterThan(0);
    expect(eventOf(sidecar, 'path-query')).toMatchObject({ completionTokens: 1 });
  });

  it('a doubly encoded path is not the chat route, and as no route vLLM serves it is refused, not passed up', async () => {
    const response = await post('/v1/chat/%2563ompletions', 'path-double', '{"max_tokens":1}');
    expect(seenOf('path-double')).toBeUndefined();
    expect(response.status).toBe(404);
    expect(errorOf(response.body)).toContain('SIDECAR_PASS_THROUGH');
    expect(eventOf(sidecar, 'path-double')).toBeUndefined();
  });

  it.each([
    ['/v1/chat/%zzompletions'],
    ['/v1/chat/completions%'],
    ['/v1/chat/completions%2'],
    ['/v1/chat/%C3%28'],
    ['/v1/chat/%FFcompletions'],
    ['*'],
  ])('%s cannot be decoded: 400, and nothing reaches vLLM', async (path) => {
    const before = vllm.seen.length;
    const response = await post(path, 'path-bad', '{"max_tokens":1}');
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toContain('request target');
    expect(vllm.seen.length).toBe(before);
    expect(eventOf(sidecar, 'path-bad')).toBeUndefined();
  });
});

describe('request bodies the sidecar cannot read with certainty are refused before vLLM', () => {
  it.each([
    ['"stream":"true"', '{"stream":"true","max_tokens":2}', '"stream"'],
    ['"stream":1', '{"stream":1,"max_tokens":2}', '"stream"'],
    ['NaN', '{"stream":true,"temperature":NaN}', 'JSON'],
    ['Infinity', '{"max_tokens":Infinity}', 'JSON'],
    ['a byte order mark', '\ufeff{"stream":true}', 'byte order mark'],
    ['a top-level array', '[{"stream":true}]', 'JSON object'],
    ['a string', '"hello"', 'JSON object'],
    ['not JSON', 'stream=true', 'JSON'],
    ['stream_options a string', '{"stream":true,"stream_options":"usage"}', '"stream_options"'],
    ['stream_options an array', '{"stream":true,"stream_options":[true]}', '"stream_options"'],
    ['include_usage "yes"', '{"stream":true,"stream_options":{"include_usage":"yes"}}', 'include_usage'],
    ['a numeric model', '{"model":7}', '"model"'],
    ['a model with a newline', '{"model":"fake\\nmodel"}', '"model"'],
  ])('%s: 400 naming what is wrong, nothing forwarded, no event', async (_name, body, named) => {
    const id = `body-${vllm.seen.length}-${sidecar.events.length}-${named.length}`;
    const before = vllm.seen.length;
    const response = await post('/v1/chat/completions', id, body);
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toContain(named);
    expect(vllm.seen.length).toBe(before);
    expect(eventOf(sidecar, id)).toBeUndefined();
  });

  it('bytes that are not UTF-8: 400', async () => {
    const body = Buffer.concat([
      Buffer.from('{"model":"fake-model","prompt":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const response = await post('/v1/completions', 'body-latin', body);
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toContain('UTF-8');
    expect(seenOf('body-latin')).toBeUndefined();
  });

  it('duplicate keys: the last wins, as in vLLM, and vLLM receives the re-serialised body the sidecar metered', async () => {
    const body = '{ "stream": false,\n  "stream": true, "max_tokens": 4 }';
    const response = await post('/v1/chat/completions', 'body-dup', body);
    expect(response.status).toBe(200);
    const seen = seenOf('body-dup');
    const sent = {
      stream: true,
      max_tokens: 4,
      stream_options: { include_usage: true, continuous_usage_stats: true },
      priority: 0,
    };
    expect(seen?.body).toEqual(sent);
    expect(Number(seen?.headers['content-length'])).toBe(Buffer.byteLength(JSON.stringify(sent)));
    expect(eventOf(sidecar, 'body-dup')).toMatchObject({ completionTokens: 4, status: 'ok' });
  });

  it('"stream": null is not streaming, as vLLM reads it, and is metered', async () => {
    const response = await post('/v1/chat/completions', 'body-null', '{"stream":null,"max_tokens":2}');
    expect(response.status).toBe(200);
    expect(eventOf(sidecar, 'body-null')).toMatchObject({ completionTokens: 2, status: 'ok' });
  });
});

describe('compression', () => {
  it('asks vLLM for identity encoding whatever the client accepts', async () => {
    await post(
      '/v1/chat/completions',
      'gz-accept',
      '{"max_tokens":2,"stream":true}',
      WHO,
      'Accept-Encoding: gzip, br',
    );
    expect(seenOf('gz-accept')?.headers['accept-encoding']).toBe('identity');
    expect(eventOf(sidecar, 'gz-accept')).toMatchObject({ completionTokens: 2, status: 'ok' });
  });

  it('refuses a compressed request body with 415: it could not be read to be metered', async () => {
    const body = gzipSync('{"max_tokens":2}');
    const response = await post('/v1/chat/completions', 'gz-request', body, WHO, 'Content-Encoding: gzip');
    expect(response.status).toBe(415);
    expect(seenOf('gz-request')).toBeUndefined();
  });

  it('a compressed answer on a metered route is a 502 and an error event, never 0 tokens ok', async () => {
    const gzipping: Server = createServer((req, res) => {
      req.resume();
      const body = gzipSync(
        JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 9 } }),
      );
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': body.length,
      });
      res.end(body);
    });
    gzipping.listen(0, '127.0.0.1');
    await once(gzipping, 'listening');
    const proxy = await startProxy(new URL(`http://127.0.0.1:${(gzipping.address() as AddressInfo).port}`));
    try {
      const response = await rawExchange(
        proxy.port,
        postHead('/v1/chat/completions', 2, 'X-Request-Id: gz-answer', WHO),
        '{}',
      );
      expect(response.status).toBe(502);
      expect(errorOf(response.body)).toContain('content-encoding gzip');
      expect(eventOf(proxy, 'gz-answer')).toMatchObject({ status: 'error', httpStatus: 502 });
    } finally {
      gzipping.closeAllConnections();
      gzipping.close();
    }
  });
});

describe('attribution headers are read as UTF-8, once each', () => {
  it.each([['Ström AB'], ['Åkesson'], ['woodgrove 🌲'], ['東京 株式会社'], ['👨‍👩‍👧 family']])(
    'tenant %s is billed as sent',
    async (tenant) => {
      const id = `utf8-${Buffer.from(tenant).toString('hex').slice(0, 24)}`;
      const response = await post(
        '/v1/completions',
        id,
        '{"max_tokens":1}',
        `X-Tenant: ${tenant}`,
        'X-Feature: Überblick',
      );
      expect(response.status).toBe(200);
      expect(eventOf(sidecar, id)).toMatchObject({ tenant, feature: 'Überblick' });
    },
  );

  it.each([
    ['two x-tenant headers', ['X-Tenant: alice', 'X-Tenant: bob'], 'sent once'],
    ['two x-feature headers', [WHO, 'X-Feature: a', 'x-feature: b'], 'sent once'],
    ['two request classes', [WHO, 'X-Request-Class: batch', 'X-Request-Class: interactive'], 'sent once'],
    ['two authorization headers', [WHO, 'Authorization: Bearer a', 'Authorization: Bearer b'], 'sent once'],
    ['the reserved (idle) tenant', ['X-Tenant: (idle)'], 'reserved'],
    ['a right-to-left override', ['X-Tenant: \u202eevil'], 'bidirectional'],
    ['a first strong isolate', ['X-Tenant: ali\u2068ce'], 'bidirectional'],
    ['a zero-width space', ['X-Tenant: ali\u200bce'], 'invisible'],
    ['129 characters after decoding', [`X-Tenant: ${'ö'.repeat(129)}`], 'at most 128'],
  ])('%s: 400 naming the header, nothing forwarded', async (_name, lines, named) => {
    const before = vllm.seen.length;
    const response = await post('/v1/completions', 'hdr-bad', '{"max_tokens":1}', ...lines);
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toContain(named);
    expect(vllm.seen.length).toBe(before);
  });

  it('bytes that are not UTF-8 in a tenant: 400', async () => {
    const socket = connect(sidecar.port, '127.0.0.1');
    socket.write(
      Buffer.concat([
        Buffer.from(`${postHead('/v1/completions', 2).split('\n').join('\r\n')}\r\nX-Tenant: caf`),
        Buffer.from([0xe9]), // é in latin1: not UTF-8
        Buffer.from('\r\n\r\n{}'),
      ]),
    );
    const response = await readResponse(socket);
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toContain('UTF-8');
  });
});

describe('limits: depth, size, and memory across requests', () => {
  const nested = (depth: number) =>
    `{"stream":true,"max_tokens":1,"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

  it('a body nested 6,000 deep is refused with 400, and the sidecar keeps serving', async () => {
    const deep = `{"stream":true,"x":${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}}`;
    const response = await post('/v1/chat/completions', 'deep-1', deep);
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toContain('nested deeper than 128');
    expect(seenOf('deep-1')).toBeUndefined();
    expect((await post('/v1/chat/completions', 'deep-after', '{"max_tokens":1}')).status).toBe(200);
  });

  it('128 levels pass and are metered; 129 do not', async () => {
    expect((await post('/v1/chat/completions', 'deep-128', nested(128))).status).toBe(200);
    expect(eventOf(sidecar, 'deep-128')).toMatchObject({ completionTokens: 1 });
    expect((await post('/v1/chat/completions', 'deep-129', nested(129))).status).toBe(400);
  });

  it('brackets inside strings do not count as nesting', async () => {
    const body = `{"max_tokens":1,"prompt":"${'[{'.repeat(500)}\\"${'['.repeat(500)}"}`;
    expect((await post('/v1/completions', 'deep-string', body)).status).toBe(200);
  });

  it('a body over the per-body limit is refused with 413, declared or chunked', async () => {
    const small = await startProxy(upstream, { bodies: { max: 64 * 1024, budget: 100 * 1024 } });
    const big = `{"prompt":"${'x'.repeat(70 * 1024)}"}`;
    const declared = await rawExchange(
      small.port,
      postHead('/v1/completions', big.length, 'X-Request-Id: big-1', WHO),
      big,
    );
    expect(declared.status).toBe(413);
    const chunked = await rawExchange(
      small.port,
      postHead('/v1/completions', undefined, 'X-Request-Id: big-2', WHO, 'Transfer-Encoding: chunked'),
      `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
    );
    expect(chunked.status).toBe(413);
    expect(seenOf('big-1') ?? seenOf('big-2')).toBeUndefined();
    expect(small.bodyBytesHeld()).toBe(0);
  });

  it('bodies in flight share a memory budget: over it, 503 with Retry-After; freed when a request ends', async () => {
    const small = await startProxy(upstream, { bodies: { max: 64 * 1024, budget: 100 * 1024 } });
    const body = `{"max_tokens":2,"prompt":"${'x'.repeat(60 * 1024)}"}`;
    const head = (id: string) => postHead('/v1/completions', body.length, `X-Request-Id: ${id}`, WHO);
    const first = openRaw(small.port, head('budget-1'));
    first.write(body.slice(0, 50 * 1024));
    await until(() => small.bodyBytesHeld() >= 50 * 1024);
    const refused = await rawExchange(small.port, head('budget-2'), body);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(seenOf('budget-2')).toBeUndefined();
    first.write(body.slice(50 * 1024));
    expect((await readResponse(first)).status).toBe(200);
    expect(eventOf(small, 'budget-1')).toMatchObject({ completionTokens: 2, status: 'ok' });
    await until(() => small.bodyBytesHeld() === 0);
    expect((await rawExchange(small.port, head('budget-3'), body)).status).toBe(200);
  });

  it('a fault while handling one request answers that request and does not take the process down', async () => {
    let calls = 0;
    const faulty = await startProxy(upstream, {
      emit: () => {
        calls += 1;
        throw new Error('emit failed');
      },
    });
    const response = await rawExchange(
      faulty.port,
      postHead('/v1/completions', 16, 'X-Request-Id: fault-1', WHO),
      '{"max_tokens":1}',
    );
    expect(response.status).toBe(200);
    expect(calls).toBe(1);
    const again = await rawExchange(
      faulty.port,
      postHead('/v1/completions', 16, 'X-Request-Id: fault-2', WHO),
      '{"max_tokens":1}',
    );
    expect(again.status).toBe(200);
    // A client that half-closes is taken for gone: the abort path meters too, and may fail too.
    const gone = openRaw(faulty.port, postHead('/v1/completions', 16, 'X-Request-Id: fault-3', WHO));
    gone.end('{"max_tokens":1}');
    await readResponse(gone);
    await until(() => calls === 3);
    expect((await rawExchange(faulty.port, postHead('/v1/completions', 2, WHO), '{}')).status).toBe(200);
  });
  it('a fault while relaying an answer vLLM is serving ends that response and is metered as an error', async () => {
    const metrics = new SidecarMetrics();
    metrics.addedLatency.observe = () => {
      throw new Error('metrics failed');
    };
    const faulty = await startProxy(upstream, { metrics });
    const socket = openRaw(
      faulty.port,
      postHead('/v1/chat/completions', 30, 'X-Request-Id: fault-relay', WHO),
    );
    socket.write('{"stream":true,"max_tokens":5}');
    await readResponse(socket).catch(() => undefined); // cut off: the client must not take it for whole
    await until(() => eventOf(faulty, 'fault-relay') !== undefined);
    expect(eventOf(faulty, 'fault-relay')).toMatchObject({ status: 'error', httpStatus: 200 });
  });
});

describe('client-controlled fields are bounded where they come in', () => {
  it('a 2 MB model is refused with 400 naming the field', async () => {
    const body = JSON.stringify({ model: 'm'.repeat(2 * 1024 * 1024), max_tokens: 1 });
    const response = await post('/v1/completions', 'model-big', body);
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toContain('"model" must be at most 256 characters');
    expect(seenOf('model-big')).toBeUndefined();
  });

  it('a 256-character model is metered under that name', async () => {
    const model = 'm'.repeat(256);
    expect(
      (await post('/v1/completions', 'model-256', JSON.stringify({ model, max_tokens: 1 }))).status,
    ).toBe(200);
    expect(eventOf(sidecar, 'model-256')).toMatchObject({ model });
  });

  it('an over-long request id is replaced by one of the sidecar', async () => {
    const long = 'r'.repeat(129);
    const response = await post('/v1/completions', long, '{"max_tokens":1}');
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a made-up request class is billed as sent but counted in the metrics as "other"', async () => {
    const metrics = new SidecarMetrics();
    const proxy = await startProxy(upstream, { metrics });
    for (const name of ['made-up-1', 'made-up-2']) {
      const head = postHead(
        '/v1/completions',
        16,
        `X-Request-Id: class-${name}`,
        WHO,
        `X-Request-Class: ${name}`,
      );
      expect((await rawExchange(proxy.port, head, '{"max_tokens":1}')).status).toBe(200);
      expect(eventOf(proxy, `class-${name}`)).toMatchObject({ requestClass: name });
    }
    const text = await metrics.registry.metrics();
    expect(text).toContain('chargeback_sidecar_requests_total{request_class="other",status="ok"} 2');
    expect(text).not.toContain('made-up');
  });

  it('every usage event the sidecar emitted in this file passes the report validation', () => {
    const all = running.flatMap((r) => r.events);
    expect(all.length).toBeGreaterThan(20);
    for (const event of all) expect(parseEvent(event)).toMatchObject({ ok: true });
  });
});
