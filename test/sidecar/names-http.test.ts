import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { parseEvent } from '../../src/domain/events.js';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import { createProxy } from '../../src/sidecar/proxy.js';
import { postHead, rawExchange } from './raw-http.js';

/** The one names rule (domain/text.ts) at the sidecar, through real HTTP requests to a fake vLLM. */

const vllm = new FakeVllm();
const events: Record<string, unknown>[] = [];
let port = 0;
let stop: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  const upstream = await vllm.start();
  const proxy = createProxy({
    upstream,
    rules: {
      headers: { tenant: 'x-tenant', feature: 'x-feature', requestClass: 'x-request-class' },
      apiKeys: new Map(),
      missingTenant: 'reject',
      defaultClass: 'interactive',
    },
    priorities: new Map([['interactive', 0]]),
    identity: { pod: 'vllm-0', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1, model: 'fake-model' },
    emit: (e) => events.push(e),
    metrics: new SidecarMetrics(),
  });
  proxy.server.listen(0, '127.0.0.1');
  await once(proxy.server, 'listening');
  port = (proxy.server.address() as AddressInfo).port;
  stop = async () => {
    proxy.server.closeAllConnections();
    proxy.server.close();
    await proxy.close();
  };
});

afterAll(async () => {
  await stop();
  await vllm.stop();
});

async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i += 1) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 500 && !ready(); i += 1) await new Promise((r) => setTimeout(r, 10));
  if (!ready()) throw new Error('condition never held');
}

/** Posts a completion with the given header lines (sent as UTF-8 bytes). */
function post(id: string, body: string, ...lines: string[]) {
  const bytes = Buffer.from(body);
  return rawExchange(port, postHead('/v1/completions', bytes.length, `X-Request-Id: ${id}`, ...lines), bytes);
}

const seenOf = (id: string) => vllm.seen.find((s) => s.headers['x-request-id'] === id);
const eventOf = (id: string) => events.find((e) => e.requestId === id);
const errorOf = (body: string) => (JSON.parse(body) as { error: { message: string } }).error.message;

describe('names through the proxy', () => {
  it('meters a decomposed tenant, feature and model in NFC, sends vLLM the NFC model, and ingestion accepts the event', async () => {
    const response = await post(
      'nfc-1',
      JSON.stringify({ model: 'mode\u0300le', max_tokens: 1 }),
      'X-Tenant: e\u0301cole',
      'X-Feature: re\u0301sume\u0301',
    );
    expect(response.status).toBe(200);
    await until(() => eventOf('nfc-1') !== undefined);
    expect(eventOf('nfc-1')).toMatchObject({
      tenant: '\u00e9cole',
      feature: 'r\u00e9sum\u00e9',
      model: 'mod\u00e8le',
    });
    expect(seenOf('nfc-1')?.body.model).toBe('mod\u00e8le');
    expect(parseEvent(eventOf('nfc-1'))).toMatchObject({ ok: true, event: { tenant: '\u00e9cole' } });
  });

  it('bills the precomposed and the decomposed spelling to the same tenant', async () => {
    await post('nfc-2', '{"max_tokens":1}', 'X-Tenant: \u00e9cole');
    await post('nfc-3', '{"max_tokens":1}', 'X-Tenant: e\u0301cole');
    await until(() => eventOf('nfc-2') !== undefined && eventOf('nfc-3') !== undefined);
    expect(eventOf('nfc-2')?.tenant).toBe(eventOf('nfc-3')?.tenant);
  });

  it.each([
    [
      'a line separator in the tenant',
      ['X-Tenant: a\u2028b'],
      'x-tenant: must not contain U+2028 (line separator)',
    ],
    [
      'a paragraph separator in the feature',
      ['X-Tenant: a', 'X-Feature: b\u2029'],
      'x-feature: must not contain U+2029',
    ],
    [
      'a C1 control in the class',
      ['X-Tenant: a', 'X-Request-Class: batch\u0085'],
      'U+0085 (control character)',
    ],
    [
      '(idle) with a trailing no-break space',
      ['X-Tenant: (idle)\u00a0'],
      'x-tenant: must not begin or end with whitespace',
    ],
    ['(idle) behind a zero-width space', ['X-Tenant: \u200b(idle)'], 'U+200B (invisible character)'],
    ['the reserved (idle) itself', ['X-Tenant: (idle)'], 'x-tenant: (idle) is reserved for idle time'],
  ])('%s: 400 naming the header and the character, nothing forwarded', async (_name, lines, reason) => {
    const before = vllm.seen.length;
    const response = await post('bad-header', '{"max_tokens":1}', ...lines);
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toContain(reason);
    expect(vllm.seen.length).toBe(before);
  });

  it.each([
    ['a right-to-left override', '"llama\\u202e"', '"model" must not contain U+202E (bidirectional control)'],
    ['a lone surrogate', '"llama\\ud800"', '"model" must not contain U+D800 (lone surrogate)'],
    ['a line separator', '"llama\\u2028"', '"model" must not contain U+2028 (line separator)'],
    ['a trailing space', '"llama "', '"model" must not begin or end with whitespace'],
  ])('a model with %s: 400 naming the field, nothing forwarded', async (_name, model, reason) => {
    const before = vllm.seen.length;
    const response = await post('bad-model', `{"model":${model},"max_tokens":1}`, 'X-Tenant: acme');
    expect(response.status).toBe(400);
    expect(errorOf(response.body)).toBe(`request body: ${reason}`);
    expect(vllm.seen.length).toBe(before);
  });
});
