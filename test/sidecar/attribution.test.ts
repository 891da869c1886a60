import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attribute, loadApiKeys, sha256, type AttributionRules } from '../../src/sidecar/attribution.js';
import { SseSplitter, eventData } from '../../src/sidecar/sse.js';
import { loadSidecarSettings } from '../../src/sidecar/settings.js';

const RULES: AttributionRules = {
  headers: { tenant: 'x-tenant', feature: 'x-feature', requestClass: 'x-request-class' },
  apiKeys: new Map([[sha256('sk-contoso-1'), { tenant: 'contoso', feature: 'support-bot' }]]),
  missingTenant: 'reject',
  defaultClass: 'interactive',
};

describe('attribution', () => {
  it('takes tenant, feature and class from the headers, with defaults for the last two', () => {
    expect(attribute({ 'x-tenant': 'Tailwind, "Retail" Ltd 🌲' }, RULES)).toEqual({
      tenant: 'Tailwind, "Retail" Ltd 🌲',
      feature: 'unspecified',
      requestClass: 'interactive',
    });
  });

  it('refuses a request without a tenant, naming the header', () => {
    expect(attribute({}, RULES)).toEqual({
      error: expect.stringContaining('missing header x-tenant') as string,
    });
  });

  it('charges tenant "unknown" instead when so configured', () => {
    expect(attribute({}, { ...RULES, missingTenant: 'unknown' })).toMatchObject({ tenant: 'unknown' });
  });

  it('finds the tenant from an API key through its SHA-256 digest; headers still win', () => {
    expect(attribute({ authorization: 'Bearer sk-contoso-1' }, RULES)).toMatchObject({
      tenant: 'contoso',
      feature: 'support-bot',
    });
    expect(attribute({ authorization: 'Bearer sk-contoso-1', 'x-tenant': 'fabrikam' }, RULES)).toMatchObject({
      tenant: 'fabrikam',
    });
    expect(attribute({ authorization: 'Bearer sk-other' }, RULES)).toHaveProperty('error');
  });

  it('refuses control characters and over-long names, naming the header', () => {
    expect(attribute({ 'x-tenant': 'evil\u001b[31m' }, RULES)).toEqual({
      error: 'header x-tenant: must not contain control characters',
    });
    expect(attribute({ 'x-tenant': 'a', 'x-feature': 'f'.repeat(129) }, RULES)).toEqual({
      error: 'header x-feature: must be 1 to 128 characters',
    });
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

  it('names each missing or bad setting by its environment name', () => {
    expect(() =>
      loadSidecarSettings({ sink: 'file:/x' }, { ...POD, GPU_COUNT: 'two', SIDECAR_PRIORITIES: 'fast' }),
    ).toThrow(/SIDECAR_PRIORITIES: must look like interactive=0,batch=10; GPU_COUNT: /);
    expect(() => loadSidecarSettings({}, POD)).toThrow(
      /EVENTHUB_FULLY_QUALIFIED_NAMESPACE .*or EVENTHUB_CONNECTION_STRING/,
    );
  });
});
