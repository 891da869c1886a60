import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import {
  attribute,
  loadApiKeys,
  sha256,
  type ApiKeyGrant,
  type AttributionRules,
} from '../../src/sidecar/attribution.js';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import { createProxy } from '../../src/sidecar/proxy.js';
import { postHead, rawExchange } from './raw-http.js';

/** With an API-key map, the key decides who pays: headers can narrow within it, never leave it. */

const raw = (headers: Record<string, string>): string[] =>
  Object.entries(headers).flatMap(([name, value]) => [name, Buffer.from(value, 'utf8').toString('latin1')]);

const ALICE = 'sk-alice-1';
const BOB = 'sk-bob-1';
const BATCH_ONLY = 'sk-nightly-1';
const GRANTS: [string, ApiKeyGrant][] = [
  [ALICE, { tenant: 'alice', feature: 'chat', features: ['chat', 'search'] }],
  [BOB, { tenant: 'bob' }],
  [BATCH_ONLY, { tenant: 'carol', feature: 'nightly', requestClass: 'batch' }],
];
const RULES: AttributionRules = {
  headers: { tenant: 'x-tenant', feature: 'x-feature', requestClass: 'x-request-class' },
  apiKeys: new Map(GRANTS.map(([key, grant]) => [sha256(key), grant])),
  missingTenant: 'reject',
  defaultClass: 'interactive',
};
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('attribution with an API-key map', () => {
  it("bills the key's tenant, with its default feature and the sidecar's default class", () => {
    expect(attribute(raw(bearer(ALICE)), RULES)).toEqual({
      tenant: 'alice',
      feature: 'chat',
      requestClass: 'interactive',
    });
  });

  it("refuses Alice's key with x-tenant: bob (403), instead of billing bob", () => {
    expect(attribute(raw({ ...bearer(ALICE), 'x-tenant': 'bob' }), RULES)).toEqual({
      error: 'header x-tenant: does not match the tenant of the API key',
      status: 403,
    });
  });

  it('accepts a tenant header that agrees with the key, compared in NFC', () => {
    const rules = { ...RULES, apiKeys: new Map([[sha256('k'), { tenant: '\u00e9cole' }]]) };
    expect(attribute(raw({ ...bearer('k'), 'x-tenant': 'e\u0301cole' }), rules)).toMatchObject({
      tenant: '\u00e9cole',
    });
    expect(attribute(raw({ ...bearer(ALICE), 'x-tenant': 'alice' }), RULES)).toMatchObject({
      tenant: 'alice',
    });
  });

  it('refuses a request without a key (401), whatever its headers say', () => {
    expect(attribute(raw({ 'x-tenant': 'alice' }), RULES)).toEqual({
      error: 'missing API key: send Authorization: Bearer <key>',
      status: 401,
    });
    expect(attribute(raw({ 'x-tenant': 'alice' }), { ...RULES, missingTenant: 'unknown' })).toMatchObject({
      status: 401,
    });
  });

  it('refuses an unknown key (401) without echoing it', () => {
    const refused = attribute(raw({ ...bearer('sk-guess-42'), 'x-tenant': 'alice' }), RULES);
    expect(refused).toEqual({ error: 'unknown API key', status: 401 });
    expect(JSON.stringify(refused)).not.toContain('sk-guess-42');
  });

  it('refuses an Authorization header that is not a bearer key (401), and reads the scheme in any case', () => {
    expect(attribute(raw({ authorization: `Basic ${ALICE}` }), RULES)).toEqual({
      error: 'header authorization: must be Bearer <key>',
      status: 401,
    });
    expect(attribute(raw({ authorization: 'Bearer   ' }), RULES)).toMatchObject({ status: 401 });
    expect(attribute(raw({ authorization: `bearer ${ALICE}` }), RULES)).toMatchObject({ tenant: 'alice' });
  });

  it('lets a header choose among the features the key lists, and refuses any other (403)', () => {
    expect(attribute(raw({ ...bearer(ALICE), 'x-feature': 'search' }), RULES)).toMatchObject({
      feature: 'search',
    });
    expect(attribute(raw({ ...bearer(ALICE), 'x-feature': 'admin' }), RULES)).toEqual({
      error: 'header x-feature: not allowed for this API key',
      status: 403,
    });
  });

  it('holds a key that names a feature and a class but lists none to exactly those', () => {
    expect(attribute(raw(bearer(BATCH_ONLY)), RULES)).toEqual({
      tenant: 'carol',
      feature: 'nightly',
      requestClass: 'batch',
    });
    expect(attribute(raw({ ...bearer(BATCH_ONLY), 'x-request-class': 'interactive' }), RULES)).toEqual({
      error: 'header x-request-class: not allowed for this API key',
      status: 403,
    });
    expect(attribute(raw({ ...bearer(BATCH_ONLY), 'x-feature': 'chat' }), RULES)).toMatchObject({
      status: 403,
    });
  });

  it('lets a key that names no feature or class bill any', () => {
    expect(
      attribute(raw({ ...bearer(BOB), 'x-feature': 'anything', 'x-request-class': 'batch' }), RULES),
    ).toEqual({ tenant: 'bob', feature: 'anything', requestClass: 'batch' });
    expect(attribute(raw(bearer(BOB)), RULES)).toEqual({
      tenant: 'bob',
      feature: 'unspecified',
      requestClass: 'interactive',
    });
  });

  it("asks for the class header when the key's classes leave out the sidecar's default", () => {
    const rules = { ...RULES, apiKeys: new Map([[sha256('k'), { tenant: 't', requestClasses: ['batch'] }]]) };
    expect(attribute(raw(bearer('k')), rules)).toEqual({
      error: 'missing header x-request-class: this API key does not allow the default "interactive"',
      status: 400,
    });
    expect(attribute(raw({ ...bearer('k'), 'x-request-class': 'batch' }), rules)).toMatchObject({
      requestClass: 'batch',
    });
  });

  it('checks the header names before comparing them: a bidirectional control is a 400, not a 403', () => {
    expect(attribute(raw({ ...bearer(ALICE), 'x-tenant': 'ali\u202ece' }), RULES)).toEqual({
      error: 'header x-tenant: must not contain U+202E (bidirectional control)',
      status: 400,
    });
  });

  it('without a map, headers decide and an Authorization header is not looked at', () => {
    const open = { ...RULES, apiKeys: new Map() };
    expect(attribute(raw({ ...bearer('whatever'), 'x-tenant': 'bob' }), open)).toMatchObject({
      tenant: 'bob',
    });
  });
});

describe('the API-key map file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keys-'));
  let n = 0;
  const file = (entry: unknown): string => {
    n += 1;
    const path = join(dir, `keys-${n}.json`);
    writeFileSync(path, JSON.stringify({ [sha256('k')]: entry }));
    return path;
  };

  it('reads allowed features and classes', () => {
    const grant = { tenant: 't', feature: 'a', features: ['a', 'b'], requestClasses: ['batch'] };
    expect(loadApiKeys(file(grant)).get(sha256('k'))).toEqual(grant);
  });

  it.each([
    [{ tenant: 't', feature: 'c', features: ['a', 'b'] }, /feature: must be one of features/],
    [
      { tenant: 't', requestClass: 'x', requestClasses: ['batch'] },
      /requestClass: must be one of requestClasses/,
    ],
    [{ tenant: 't', features: [] }, /features: must list at least one name/],
    [{ tenant: 't', features: ['ok', 'bad '] }, /features\.1: must not begin or end with whitespace/],
    [{ tenant: 't', featurs: ['a'] }, /featurs/],
    [{ tenant: '(idle)' }, /tenant: \(idle\) is reserved for idle time/],
  ])('refuses %j at start', (entry, reason) => {
    expect(() => loadApiKeys(file(entry))).toThrow(reason);
  });
});

describe('API keys through the proxy', () => {
  const vllm = new FakeVllm();
  let port = 0;
  let stop: () => Promise<void> = () => Promise.resolve();
  const events: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const upstream = await vllm.start();
    const proxy = createProxy({
      upstream,
      rules: RULES,
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

  const post = (id: string, ...lines: string[]) => {
    const body = Buffer.from('{"max_tokens":1}');
    return rawExchange(port, postHead('/v1/completions', body.length, `X-Request-Id: ${id}`, ...lines), body);
  };
  const reached = (id: string) => vllm.seen.some((s) => s.headers['x-request-id'] === id);
  const message = (body: string) => (JSON.parse(body) as { error: { message: string } }).error.message;

  it.each([
    ["Alice's key with x-tenant: bob", 403, [`Authorization: Bearer ${ALICE}`, 'X-Tenant: bob']],
    ['a wrong key with x-tenant: alice', 401, ['Authorization: Bearer sk-wrong', 'X-Tenant: alice']],
    ['no key with x-tenant: alice', 401, ['X-Tenant: alice']],
    [
      "Alice's key with a feature it does not list",
      403,
      [`Authorization: Bearer ${ALICE}`, 'X-Feature: admin'],
    ],
  ] as const)('%s: refused with %i, never forwarded, never metered', async (name, status, lines) => {
    const id = `key-${name.length}-${status}`;
    const response = await post(id, ...lines);
    expect(response.status).toBe(status);
    expect(message(response.body)).not.toContain('sk-');
    expect(reached(id)).toBe(false);
    expect(events.some((e) => e.requestId === id)).toBe(false);
  });

  it("bills Alice's key to alice, and forwards the Authorization header to vLLM", async () => {
    const response = await post('key-ok', `Authorization: Bearer ${ALICE}`, 'X-Feature: search');
    expect(response.status).toBe(200);
    expect(vllm.seen.find((s) => s.headers['x-request-id'] === 'key-ok')?.headers.authorization).toBe(
      `Bearer ${ALICE}`,
    );
    for (let i = 0; i < 200 && !events.some((e) => e.requestId === 'key-ok'); i += 1)
      await new Promise((r) => setTimeout(r, 10));
    expect(events.find((e) => e.requestId === 'key-ok')).toMatchObject({
      tenant: 'alice',
      feature: 'search',
    });
  });
});
