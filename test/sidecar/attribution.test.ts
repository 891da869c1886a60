import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attribute, loadApiKeys, sha256, type AttributionRules } from '../../src/sidecar/attribution.js';
import { SseSplitter, eventData } from '../../src/sidecar/sse.js';
import { loadSidecarSettings } from '../../src/sidecar/settings.js';

/** Node's `rawHeaders` of a request: names and values in turn, values as the latin1 of their bytes. */
const raw = (headers: Record<string, string>): string[] =>
  Object.entries(headers).flatMap(([name, value]) => [name, Buffer.from(value, 'utf8').toString('latin1')]);

const RULES: AttributionRules = {
  headers: { tenant: 'x-tenant', feature: 'x-feature', requestClass: 'x-request-class' },
  apiKeys: new Map(),
  missingTenant: 'reject',
  defaultClass: 'interactive',
};

describe('attribution', () => {
  it('takes tenant, feature and class from the headers, with defaults for the last two', () => {
    expect(attribute(raw({ 'x-tenant': 'Tailwind, "Retail" Ltd 🌲' }), RULES)).toEqual({
      tenant: 'Tailwind, "Retail" Ltd 🌲',
      feature: 'unspecified',
      requestClass: 'interactive',
    });
  });

  it('refuses a request without a tenant, naming the header', () => {
    expect(attribute([], RULES)).toEqual({
      error: expect.stringContaining('missing header x-tenant') as string,
      status: 400,
    });
  });

  it('charges tenant "unknown" instead when so configured', () => {
    expect(attribute([], { ...RULES, missingTenant: 'unknown' })).toMatchObject({ tenant: 'unknown' });
  });

  it('refuses control characters and over-long names, naming the header', () => {
    expect(attribute(raw({ 'x-tenant': 'evil\u001b[31m' }), RULES)).toEqual({
      error: 'header x-tenant: must not contain U+001B (control character)',
      status: 400,
    });
    expect(attribute(raw({ 'x-tenant': 'a', 'x-feature': 'f'.repeat(129) }), RULES)).toEqual({
      error: 'header x-feature: must be at most 128 characters',
      status: 400,
    });
  });

  it('reads header bytes as UTF-8 (Node hands them over as latin1), and refuses bytes that are not', () => {
    expect(attribute(raw({ 'x-tenant': 'Ström AB', 'x-feature': 'Överblick' }), RULES)).toMatchObject({
      tenant: 'Ström AB',
      feature: 'Överblick',
    });
    expect(attribute(['x-tenant', 'caf\u00e9'], RULES)).toEqual({
      error: 'header x-tenant: must be valid UTF-8',
      status: 400,
    });
  });

  it('counts the 128 characters after decoding', () => {
    expect(attribute(raw({ 'x-tenant': 'ö'.repeat(128) }), RULES)).toMatchObject({ tenant: 'ö'.repeat(128) });
  });

  it('refuses an attribution header sent twice, whatever its case, instead of billing "alice, bob"', () => {
    expect(attribute(['X-Tenant', 'alice', 'x-tenant', 'bob'], RULES)).toEqual({
      error: 'header x-tenant: must be sent once',
      status: 400,
    });
    expect(
      attribute(['x-tenant', 'a', 'Authorization', 'Bearer x', 'authorization', 'Bearer y'], RULES),
    ).toEqual({
      error: 'header authorization: must be sent once',
      status: 400,
    });
    expect(attribute(['x-tenant', 'a', 'accept', 'x', 'accept', 'y'], RULES)).toMatchObject({ tenant: 'a' });
  });

  it('refuses the reserved (idle) tenant, from a header or from an API key', () => {
    expect(attribute(raw({ 'x-tenant': '(idle)' }), RULES)).toHaveProperty('error');
    const idleKey = { ...RULES, apiKeys: new Map([[sha256('k'), { tenant: '(idle)' }]]) };
    expect(attribute(raw({ authorization: 'Bearer k' }), idleKey)).toHaveProperty('error');
  });

  it('refuses bidirectional controls and invisible characters that make one name look like another', () => {
    for (const [c, what] of [
      ['\u202a', 'U+202A (bidirectional control)'],
      ['\u202e', 'U+202E (bidirectional control)'],
      ['\u2066', 'U+2066 (bidirectional control)'],
      ['\u2069', 'U+2069 (bidirectional control)'],
      ['\u200e', 'U+200E (bidirectional control)'],
      ['\u200f', 'U+200F (bidirectional control)'],
      ['\u061c', 'U+061C (bidirectional control)'],
      ['\u200b', 'U+200B (invisible character)'],
      ['\u2060', 'U+2060 (invisible character)'],
      ['\ufeff', 'U+FEFF (invisible character)'],
      ['\u00ad', 'U+00AD (invisible character)'],
    ])
      expect(attribute(raw({ 'x-tenant': `ali${c}ce` }), RULES)).toEqual({
        error: `header x-tenant: must not contain ${what}`,
        status: 400,
      });
    expect(attribute(raw({ 'x-tenant': '👨\u200d👩\u200d👧' }), RULES)).toMatchObject({
      tenant: '👨\u200d👩\u200d👧',
    });
  });

  it('bills école as one tenant whether the client sends it precomposed or decomposed (NFC)', () => {
    const precomposed = attribute(raw({ 'x-tenant': '\u00e9cole', 'x-feature': 'r\u00e9sum\u00e9' }), RULES);
    const decomposed = attribute(
      raw({ 'x-tenant': 'e\u0301cole', 'x-feature': 're\u0301sume\u0301' }),
      RULES,
    );
    expect(decomposed).toEqual(precomposed);
    expect(decomposed).toMatchObject({ tenant: '\u00e9cole', feature: 'r\u00e9sum\u00e9' });
    expect(attribute(raw({ 'x-tenant': 'a', 'x-request-class': 'inte\u0301ractive' }), RULES)).toMatchObject({
      requestClass: 'int\u00e9ractive',
    });
  });

  it('counts 128 characters after normalisation', () => {
    expect(attribute(raw({ 'x-tenant': 'e\u0301'.repeat(128) }), RULES)).toMatchObject({
      tenant: '\u00e9'.repeat(128),
    });
  });

  it.each([
    ['x-tenant', 'a\u2028b', 'must not contain U+2028 (line separator)'],
    ['x-feature', 'a\u2029b', 'must not contain U+2029 (paragraph separator)'],
    ['x-request-class', 'batch\u202e', 'must not contain U+202E (bidirectional control)'],
    ['x-feature', 'chat\u0085', 'must not contain U+0085 (control character)'],
    ['x-tenant', 'acme ', 'must not begin or end with whitespace'],
    ['x-feature', '\u00a0chat', 'must not begin or end with whitespace'],
    ['x-tenant', '(idle)\u3000', 'must not begin or end with whitespace'],
    ['x-tenant', '(idle)\u200b', 'must not contain U+200B (invisible character)'],
    ['x-tenant', '\u202d(idle)', 'must not contain U+202D (bidirectional control)'],
  ])('refuses %s %j: %s', (header, value, reason) => {
    const headers = { 'x-tenant': 'acme', [header]: value };
    expect(attribute(raw(headers), RULES)).toEqual({ error: `header ${header}: ${reason}`, status: 400 });
  });

  it('refuses (idle) with a trailing space (whitespace) and (idle) itself (reserved)', () => {
    expect(attribute(raw({ 'x-tenant': '(idle) ' }), RULES)).toEqual({
      error: 'header x-tenant: must not begin or end with whitespace',
      status: 400,
    });
    expect(attribute(raw({ 'x-tenant': '(idle)' }), RULES)).toEqual({
      error: 'header x-tenant: (idle) is reserved for idle time',
      status: 400,
    });
  });

  it('holds the API-key map to the same rule at start, and keeps its names in NFC', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const file = (entry: Record<string, string>): string => {
      const path = join(dir, `${sha256(JSON.stringify(entry))}.json`);
      writeFileSync(path, JSON.stringify({ [sha256('k')]: entry }));
      return path;
    };
    expect(loadApiKeys(file({ tenant: 'e\u0301cole' })).get(sha256('k'))).toEqual({ tenant: '\u00e9cole' });
    expect(() => loadApiKeys(file({ tenant: '(idle) ' }))).toThrow(
      /tenant: must not begin or end with whitespace/,
    );
    expect(() => loadApiKeys(file({ tenant: 't', feature: 'f\u202e' }))).toThrow(
      /feature: must not contain U\+202E \(bidirectional control\)/,
    );
  });

  it('hashes a non-ASCII API key over its UTF-8 bytes', () => {
    const rules = { ...RULES, apiKeys: new Map([[sha256('sk-ö-1'), { tenant: 'umlaut' }]]) };
    expect(attribute(raw({ authorization: 'Bearer sk-ö-1' }), rules)).toMatchObject({ tenant: 'umlaut' });
  });

  it('reads an API-key map of digests and rejects one holding plain keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ [sha256('k')]: { tenant: 't' } }));
    expect(loadApiKeys(good).get(sha256('k'))).toEqual({ tenant: 't' });
    const plain = join(dir, 'plain.json');
    writeFileSync(plain, JSON.stringify({ 'sk-live-123': { tenant: 't' } }));
    expect(() => loadApiKeys(plain)).toThrow(/SHA-256/);
    expect(() => loadApiKeys(plain)).not.toThrow(/sk-live-123/);
  });
});

describe('server-sent events', () => {
  it('yields each event once its blank line arrives, across chunk boundaries and CRLF', () => {
    const s = new SseSplitter();
    expect(s.push('data: {"a"')).toEqual([]);
    expect(s.push(':1}\n\ndata: [DO')).toEqual(['data: {"a":1}']);
    expect(s.push('NE]\r\n\r\n')).toEqual(['data: [DONE]']);
    expect(eventData('data: {"a":1}')).toEqual({ a: 1 });
    expect(eventData('data: [DONE]')).toBe('[DONE]');
    expect(eventData(': keep-alive')).toBeUndefined();
    expect(eventData('event: message\ndata: {"a":\ndata: 2}')).toEqual({ a: 2 });
  });
});

describe('sidecar settings', () => {
  const POD = { POD_NAME: 'p', GPU_SKU: 'Standard_NC24ads_A100_v4', GPU_COUNT: '1', MODEL_NAME: 'm' };

  it('lets flags win over the environment', () => {
    const s = loadSidecarSettings(
      { listen: '127.0.0.1:9999', sink: 'file:/tmp/x' },
      { ...POD, SIDECAR_LISTEN: '0.0.0.0:1' },
    );
    expect(s.listen).toEqual({ host: '127.0.0.1', port: 9999 });
  });

  it('bounds request bodies: 16 MiB each and 128 MiB in all by default, the total no smaller than one body', () => {
    const s = loadSidecarSettings({ sink: 'file:/x' }, POD);
    expect([s.maxBodyBytes, s.bodyBudgetBytes]).toEqual([16 * 1024 * 1024, 128 * 1024 * 1024]);
    expect(() =>
      loadSidecarSettings(
        { sink: 'file:/x' },
        { ...POD, SIDECAR_MAX_BODY_BYTES: '2000000', SIDECAR_BODY_BUDGET_BYTES: '1000000' },
      ),
    ).toThrow(/SIDECAR_BODY_BUDGET_BYTES must be at least SIDECAR_MAX_BODY_BYTES/);
  });

  it('holds the pod, model and default class to the names rule at start, keeping their NFC form', () => {
    expect(() => loadSidecarSettings({ sink: 'file:/x' }, { ...POD, MODEL_NAME: 'llama ' })).toThrow(
      /MODEL_NAME: must not begin or end with whitespace/,
    );
    expect(() => loadSidecarSettings({ sink: 'file:/x' }, { ...POD, POD_NAME: 'p\u202e' })).toThrow(
      /POD_NAME: must not contain U\+202E \(bidirectional control\)/,
    );
    expect(() =>
      loadSidecarSettings({ sink: 'file:/x' }, { ...POD, SIDECAR_DEFAULT_CLASS: 'batch\u2028' }),
    ).toThrow(/SIDECAR_DEFAULT_CLASS: must not contain U\+2028 \(line separator\)/);
    expect(loadSidecarSettings({ sink: 'file:/x' }, { ...POD, MODEL_NAME: 'mode\u0300le' }).model).toBe(
      'mod\u00e8le',
    );
  });

  it('names each missing or bad setting by its environment name', () => {
    expect(() =>
      loadSidecarSettings({ sink: 'file:/x' }, { ...POD, GPU_COUNT: 'two', SIDECAR_PRIORITIES: 'fast' }),
    ).toThrow(/SIDECAR_PRIORITIES: must look like interactive=0,batch=10; GPU_COUNT: /);
    expect(() => loadSidecarSettings({}, POD)).toThrow(
      /EVENTHUB_FULLY_QUALIFIED_NAMESPACE .*or EVENTHUB_CONNECTION_STRING/,
    );
  });
});
