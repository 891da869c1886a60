import { describe, expect, it } from 'vitest';
import { Router } from '../../src/sidecar/routes.js';
import { loadSidecarSettings } from '../../src/sidecar/settings.js';

const env = { POD_NAME: 'vllm-0', GPU_SKU: 'Standard_NC24ads_A100_v4', GPU_COUNT: '1', MODEL_NAME: 'm' };
const load = (more: Record<string, string>) =>
  loadSidecarSettings({ sink: 'file:/tmp/x' }, { ...env, ...more });

describe('route settings', () => {
  it('reads pass-through patterns and refused routes as lists', () => {
    const s = load({
      SIDECAR_PASS_THROUGH: 'POST /sleep, GET /is_sleeping,/v1/load_lora_adapter',
      SIDECAR_REFUSED_ROUTES: '/v1/audio/transcriptions',
    });
    expect(s.routes).toEqual({
      passThrough: ['POST /sleep', 'GET /is_sleeping', '/v1/load_lora_adapter'],
      refused: ['/v1/audio/transcriptions'],
    });
    const router = new Router(s.routes);
    expect(router.route('POST', '/sleep')).toEqual({ kind: 'pass' });
    expect(router.route('GET', '/sleep').kind).toBe('refuse');
    expect(router.route('PUT', '/v1/load_lora_adapter')).toEqual({ kind: 'pass' }); // no method: any
    expect(router.route('POST', '/v1/audio/transcriptions')).toMatchObject({ kind: 'refuse', status: 403 });
  });

  it('refuses a pattern that is not METHOD /path, naming the setting', () => {
    expect(() => load({ SIDECAR_PASS_THROUGH: 'sleep' })).toThrow(
      /SIDECAR_PASS_THROUGH: "sleep" must look like/,
    );
  });

  it('refuses to "refuse" a route the sidecar does not meter (a misspelling would refuse nothing)', () => {
    expect(() => load({ SIDECAR_REFUSED_ROUTES: '/v1/audio/transcription' })).toThrow(
      /SIDECAR_REFUSED_ROUTES: \/v1\/audio\/transcription is not a metered route/,
    );
  });

  it('bounds a stream event at 8 MiB by default, and not below 64 KiB', () => {
    expect(load({}).maxStreamEventChars).toBe(8 * 1024 * 1024);
    expect(() => load({ SIDECAR_MAX_STREAM_EVENT_BYTES: '100' })).toThrow(/SIDECAR_MAX_STREAM_EVENT_BYTES/);
  });

  it('matches a path parameter and a trailing wildcard, and GET patterns take HEAD', () => {
    const router = new Router({ passThrough: ['GET /v1/files/*'], refused: [] });
    expect(router.route('GET', '/v1/responses/resp_123')).toEqual({ kind: 'pass' });
    expect(router.route('POST', '/v1/responses/resp_123/cancel')).toEqual({ kind: 'pass' });
    expect(router.route('POST', '/v1/responses/resp_123')).toMatchObject({ kind: 'refuse', status: 404 });
    expect(router.route('HEAD', '/v1/files/a/b')).toEqual({ kind: 'pass' });
    expect(router.route('POST', '/v1/chat/completions')).toEqual({ kind: 'meter', protocol: 'chat' });
  });
});
