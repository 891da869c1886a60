import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, nestingDepth, readCompletionBody } from '../../src/sidecar/body.js';
import { readTarget } from '../../src/sidecar/target.js';

describe('request targets', () => {
  it.each([
    ['/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions'],
    ['/v1/chat/%63ompletions', '/v1/chat/completions', '/v1/chat/completions'],
    ['/v1%2Fchat%2fcompletions/', '/v1/chat/completions', '/v1/chat/completions'],
    ['//v1/./x/../chat//completions?a=%2F#frag', '/v1/chat/completions', '/v1/chat/completions?a=%2F'],
    ['http://h:1/v1/completions?x', '/v1/completions', '/v1/completions?x'],
    ['http://h', '/', '/'],
    ['/v1/chat/%2563ompletions', '/v1/chat/%63ompletions', '/v1/chat/%2563ompletions'],
    ['/v1/models/%C3%A9t%C3%A9', '/v1/models/été', '/v1/models/%C3%A9t%C3%A9'],
  ])('%s routes as %s and goes up as %s', (url, path, forward) => {
    expect(readTarget(url)).toEqual({ path, forward });
  });

  it.each([
    ['/a%'],
    ['/a%4'],
    ['/a%g0'],
    ['/%C3'],
    ['/%ED%A0%80'],
    ['/caf\u00e9'],
    ['*'],
    ['example.com:443'],
  ])('%s cannot be decoded', (url) => {
    expect(readTarget(url)).toHaveProperty('error');
  });
});

describe('completion bodies', () => {
  it('counts nesting outside strings only, escaped quotes included', () => {
    expect(nestingDepth(Buffer.from('{"a":[{"b":"[[[{\\"[["}]}'))).toBe(3);
    expect(nestingDepth(Buffer.from('"\\\\"'))).toBe(0);
  });

  it('forwards the re-serialised body with usage asked for and the priority set', () => {
    const body = readCompletionBody(Buffer.from('{ "stream" : true, "model": "m" }'), 5);
    expect('error' in body).toBe(false);
    if ('error' in body) return;
    expect(JSON.parse(body.payload.toString())).toEqual({
      stream: true,
      model: 'm',
      stream_options: { include_usage: true, continuous_usage_stats: true },
      priority: 5,
    });
    expect(body).toMatchObject({
      stream: true,
      model: 'm',
      client: { usage: false, continuousUsage: false },
    });
  });

  it(`refuses more than ${MAX_DEPTH} levels before parsing`, () => {
    const deep = (n: number) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`);
    expect(readCompletionBody(deep(MAX_DEPTH + 1), undefined)).toEqual({
      error: `request body: nested deeper than ${MAX_DEPTH} levels`,
    });
    expect(readCompletionBody(deep(MAX_DEPTH), undefined)).toEqual({
      error: 'request body: must be a JSON object',
    });
  });
});
