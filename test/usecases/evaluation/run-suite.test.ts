import { afterEach, describe, expect, it } from 'vitest';
import { OpenAiEndpoint, retryAfterMsOf } from '../../../src/adapters/openai/openai-endpoint.js';
import { parseCases } from '../../../src/domain/evaluation/cases.js';
import { parseManifest } from '../../../src/domain/evaluation/suite.js';
import type { AttemptResult, CompletionEndpoint } from '../../../src/ports/completion-endpoint.js';
import { DEFAULT_LIMITS, runSuite, type RunLimits } from '../../../src/usecases/evaluation/run-suite.js';
import { FakeOpenAi } from '../../helpers/fake-openai.js';

const manifest = parseManifest(
  JSON.stringify({
    name: 's',
    version: '1',
    tenant: 't',
    feature: 'f',
    models: ['m'],
    prompt: { template: '{{input}}' },
    generation: { temperature: 0, max_tokens: 8 },
    scorers: { exact_match: {} },
  }),
  'suite.json',
);
const suiteOf = (n: number) => ({
  manifest,
  cases: parseCases(
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({ id: `c${i}`, input: `q${i}`, expected: `a${i}` }),
    ).join('\n'),
    'cases.jsonl',
    manifest,
  ),
});

/** Virtual time: sleeps advance the clock at once, and are recorded. */
function virtualTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: (ms: number) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    sleeps,
  };
}

const limits = (over: Partial<RunLimits> = {}): RunLimits => ({
  ...DEFAULT_LIMITS,
  requestsPerSecond: 1000,
  ...over,
});
const requestId = (id: string, attempt: number) => `${id}-${attempt}`;

describe('the suite runner', () => {
  it('keeps at most `concurrency` cases in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const endpoint: CompletionEndpoint = {
      async attempt(request): Promise<AttemptResult> {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight -= 1;
        const q = request.prompt.api === 'chat' ? (request.prompt.messages.at(-1)?.content ?? '') : '';
        return { ok: true, text: q.replace('q', 'a') };
      },
    };
    const time = virtualTime();
    const results = await runSuite(suiteOf(10), 'm', limits({ concurrency: 3 }), {
      endpoint,
      ...time,
      requestId,
    });
    expect(most).toBe(3);
    expect(results.map((r) => r.scores.exact_match)).toEqual(Array(10).fill(1));
  });

  it('paces attempt starts to the rate, one case after another', async () => {
    const starts: number[] = [];
    const time = virtualTime();
    const endpoint: CompletionEndpoint = {
      attempt: () => (starts.push(time.now()), Promise.resolve({ ok: true, text: 'x' })),
    };
    await runSuite(suiteOf(4), 'm', limits({ requestsPerSecond: 2, concurrency: 1 }), {
      endpoint,
      ...time,
      requestId,
    });
    expect(starts).toEqual([0, 500, 1000, 1500]);
  });

  it('paces the starts of concurrent cases too: each waits its own slot', async () => {
    const time = virtualTime();
    const endpoint: CompletionEndpoint = { attempt: () => Promise.resolve({ ok: true, text: 'x' }) };
    await runSuite(suiteOf(5), 'm', limits({ requestsPerSecond: 2, concurrency: 5 }), {
      endpoint,
      ...time,
      requestId,
    });
    // The first starts at once; each of the other four waits one more 500 ms slot.
    expect(time.sleeps).toEqual([500, 500, 500, 500]);
    expect(time.now()).toBe(2000);
  });

  it('backs off exponentially between retries', async () => {
    const time = virtualTime();
    const endpoint: CompletionEndpoint = {
      attempt: () => Promise.resolve({ ok: false, retryable: true, reason: 'HTTP 502' }),
    };
    const [result] = await runSuite(suiteOf(1), 'm', limits({ attempts: 4, baseDelayMs: 100 }), {
      endpoint,
      ...time,
      requestId,
      random: () => 1,
    });
    expect(time.sleeps).toEqual([100, 200, 400]);
    expect(result).toMatchObject({
      status: 'not-completed',
      attempts: 4,
      failures: ['not completed: HTTP 502 (after 4 attempts)'],
    });
  });

  it('a Retry-After longer than the longest wait ends the tries at once', async () => {
    const time = virtualTime();
    const endpoint: CompletionEndpoint = {
      attempt: () =>
        Promise.resolve({ ok: false, retryable: true, reason: 'HTTP 429', retryAfterMs: 120_000 }),
    };
    const [result] = await runSuite(suiteOf(1), 'm', limits({ maxDelayMs: 30_000 }), {
      endpoint,
      ...time,
      requestId,
    });
    expect(result?.attempts).toBe(1);
    expect(result?.failures[0]).toBe(
      'not completed: HTTP 429; Retry-After asked for 120 s, more than the 30 s allowed',
    );
  });
});

describe('the OpenAI endpoint with the runner: 429 with Retry-After', () => {
  let server: FakeOpenAi | undefined;
  afterEach(async () => server?.stop());

  it('waits what Retry-After asks before the next attempt, then completes', async () => {
    server = new FakeOpenAi((_body, attempt) =>
      attempt === 1 ? { status: 429, headers: { 'retry-after': '3' } } : { answer: 'a0' },
    );
    const url = await server.start();
    const time = virtualTime();
    const [result] = await runSuite(suiteOf(1), 'm', limits({ baseDelayMs: 10 }), {
      endpoint: new OpenAiEndpoint({ baseUrl: url }),
      ...time,
      requestId,
    });
    expect(time.sleeps).toContain(3000);
    expect(result).toMatchObject({ status: 'completed', attempts: 2, scores: { exact_match: 1 } });
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(retryAfterMsOf('7', 0)).toBe(7000);
    expect(retryAfterMsOf('Mon, 07 Dec 2026 08:00:10 GMT', Date.parse('2026-12-07T08:00:00Z'))).toBe(10_000);
    expect(retryAfterMsOf('soon', 0)).toBeUndefined();
  });

  it('takes usage and the finish reason from the answer', async () => {
    server = new FakeOpenAi(() => ({ answer: 'a0' }));
    const url = await server.start();
    const endpoint = new OpenAiEndpoint({ baseUrl: new URL(`${url.href}v1`), apiKey: 'k-1' });
    const request = {
      model: 'm',
      prompt: { api: 'completions' as const, prompt: 'q' },
      generation: manifest.generation,
    };
    const answer = await endpoint.attempt(
      request,
      { tenant: 't', feature: 'f', requestClass: 'batch' },
      'r-1',
      AbortSignal.timeout(5000),
    );
    expect(answer).toEqual({
      ok: true,
      text: 'a0',
      promptTokens: 20,
      completionTokens: 5,
      finishReason: 'stop',
    });
    expect(server.calls[0]).toMatchObject({
      path: '/v1/completions',
      headers: { authorization: 'Bearer k-1' },
    });
  });

  it('sends a tenant outside Latin-1 as its UTF-8 bytes, as the sidecar decodes it', async () => {
    server = new FakeOpenAi(() => ({ answer: 'a0' }));
    const url = await server.start();
    const request = {
      model: 'm',
      prompt: { api: 'completions' as const, prompt: 'q' },
      generation: manifest.generation,
    };
    const answer = await new OpenAiEndpoint({ baseUrl: url }).attempt(
      request,
      { tenant: 'équipe qualité 🚀', feature: 'f', requestClass: 'batch' },
      'r-1',
      AbortSignal.timeout(5000),
    );
    expect(answer.ok).toBe(true);
    const sent = server.calls[0]?.headers['x-tenant'];
    expect(Buffer.from(String(sent), 'latin1').toString('utf8')).toBe('équipe qualité 🚀');
  });
});

describe('streamed answers', () => {
  let server: FakeOpenAi | undefined;
  afterEach(async () => server?.stop());
  const streamed = { ...manifest, generation: { ...manifest.generation, stream: true } };
  const run = async (url: URL) => {
    const time = virtualTime();
    const [result] = await runSuite({ ...suiteOf(1), manifest: streamed }, 'm', limits({ attempts: 2 }), {
      endpoint: new OpenAiEndpoint({ baseUrl: url }),
      ...time,
      requestId,
    });
    return result;
  };

  it('joins the deltas, takes usage from the last chunk, and asks for it', async () => {
    server = new FakeOpenAi(() => ({ stream: ['a', '0'] }));
    const result = await run(await server.start());
    expect(result).toMatchObject({ status: 'completed', answer: 'a0', promptTokens: 9, completionTokens: 2 });
    expect(server.calls[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('retries a stream cut before [DONE], and one with an error event', async () => {
    server = new FakeOpenAi((_b, attempt) =>
      attempt === 1 ? { stream: ['a'], end: 'cut' } : { stream: ['a0'] },
    );
    expect(await run(await server.start())).toMatchObject({ status: 'completed', attempts: 2, answer: 'a0' });
    await server.stop();
    server = new FakeOpenAi(() => ({ stream: ['a'], end: 'error' }));
    const failed = await run(await server.start());
    expect(failed?.status).toBe('not-completed');
    expect(failed?.failures[0]).toMatch(/the stream failed: engine died \(after 2 attempts\)$/);
  });

  it('a partial stream is never scored as an answer', async () => {
    server = new FakeOpenAi(() => ({ stream: ['a0'], end: 'cut' }));
    const result = await run(await server.start());
    expect(result).toMatchObject({ status: 'not-completed', scores: { exact_match: 0 } });
    expect(result?.failures[0]).toMatch(/ended before data: \[DONE\]|terminated|other side closed/);
  });
});
