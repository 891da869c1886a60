import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { parseReplayWorkloadArgs, runReplayWorkload } from '../../src/cli/replay-workload-command.js';
import { usage } from '../helpers/events.js';
import { runMain } from '../helpers/cli.js';
import { startTestProxy, type RunningProxy } from '../sidecar/proxy-harness.js';

const SKU = 'Standard_NC24ads_A100_v4';
const TENANTS = ['acme', 'contoso', 'fabrikam'];
const FEATURES = ['chat', 'search', 'summarize'];
const CLASSES = ['interactive', 'batch'];

let dir: string;
let eventsPath: string;
const source = new Map<string, Record<string, unknown>>();
let vllm: FakeVllm;
let baseline: RunningProxy;
let candidate: RunningProxy;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'replay-workload-'));
  const events: Record<string, unknown>[] = [];
  for (let i = 0; i < 60; i += 1)
    events.push(
      usage({
        eventId: `evt-${i}`,
        model: 'fake-model',
        gpuSku: SKU,
        tenant: TENANTS[i % 3],
        feature: FEATURES[Math.floor(i / 3) % 3],
        requestClass: CLASSES[i % 2],
        promptTokens: 50 + i,
        completionTokens: 5 + (i % 17),
      }),
    );
  // Another model's traffic and requests that failed are not the workload replayed.
  for (let i = 0; i < 10; i += 1) events.push(usage({ eventId: `other-${i}`, model: 'qwen', gpuSku: SKU }));
  for (let i = 0; i < 5; i += 1)
    events.push(usage({ eventId: `err-${i}`, model: 'fake-model', gpuSku: SKU, status: 'error' }));
  for (const e of events) source.set(String(e.eventId), e);
  eventsPath = join(dir, 'traffic.ndjson');
  writeFileSync(eventsPath, events.map((e) => JSON.stringify(e)).join('\n'));
  vllm = new FakeVllm();
  const upstream = await vllm.start();
  baseline = await startTestProxy(upstream);
  candidate = await startTestProxy(upstream);
});

afterAll(async () => {
  await baseline.stop();
  await candidate.stop();
  await vllm.stop();
});

const replay = (endpoint: string, ...extra: string[]) =>
  runMain([
    'replay-workload',
    '--events',
    eventsPath,
    '--model',
    'fake-model',
    '--endpoint',
    endpoint,
    '--prices',
    'prices/azure-a100.json',
    // The plain sample; the floor per group has its own test.
    ...(extra.includes('--per-group') ? [] : ['--per-group', '0']),
    ...extra,
  ]);

async function usageEvents(proxy: RunningProxy): Promise<Record<string, unknown>[]> {
  await proxy.idle();
  return proxy.events.splice(0).filter((e) => e.type === 'usage');
}

describe('chargeback replay-workload through a real sidecar', () => {
  it("sends the sample with each event's tenant, feature, class and completion length, metered as such", async () => {
    const result = await replay(baseline.base, '--sample', '12');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      'replayed 12 of 60 completed generation(s) of fake-model through http://127.0.0.1:',
    );
    expect(result.stdout).toContain('sent 12, answered 12, failed 0');
    const metered = await usageEvents(baseline);
    expect(metered).toHaveLength(12);
    for (const event of metered) {
      const id = String(event.requestId).replace(/^replay-/, '');
      const original = source.get(id);
      expect(original, `${String(event.requestId)} replays an event of the file`).toBeDefined();
      expect({
        tenant: event.tenant,
        feature: event.feature,
        requestClass: event.requestClass,
        model: event.model,
        completionTokens: event.completionTokens,
        status: event.status,
      }).toEqual({
        tenant: original?.tenant,
        feature: original?.feature,
        requestClass: original?.requestClass,
        model: 'fake-model',
        completionTokens: original?.completionTokens,
        status: 'ok',
      });
    }
    expect(new Set(metered.map((e) => e.tenant)).size).toBeGreaterThan(1);
    const bodies = vllm.seen.splice(0).map((s) => s.body);
    expect(bodies).toHaveLength(12);
    for (const body of bodies) {
      expect(body).toMatchObject({ model: 'fake-model', ignore_eos: true, stream: false });
      expect(body.min_tokens).toBe(body.max_tokens);
    }
  });

  it('sends the same requests on two runs, the version in service and the canary', async () => {
    expect((await replay(baseline.base, '--sample', '20', '--concurrency', '3')).code).toBe(0);
    expect((await replay(`${candidate.base}/v1`, '--sample', '20', '--rate', '200')).code).toBe(0);
    const shape = (events: Record<string, unknown>[]) =>
      events
        .map(
          (e) =>
            `${String(e.requestId)} ${String(e.tenant)} ${String(e.feature)} ${String(e.completionTokens)}`,
        )
        .sort();
    const first = shape(await usageEvents(baseline));
    const second = shape(await usageEvents(candidate));
    expect(first).toHaveLength(20);
    expect(second).toEqual(first);
    vllm.seen.splice(0);
  });

  it('replays every completed generation when the sample asks for more, and only those', async () => {
    const result = await replay(baseline.base, '--sample', '1000', '--api', 'completions');
    expect(result.code, result.stderr).toBe(0);
    const metered = await usageEvents(baseline);
    expect(metered).toHaveLength(60);
    expect(metered.every((e) => /^replay-evt-\d+$/.test(String(e.requestId)))).toBe(true);
    expect(new Set(vllm.seen.splice(0).map((s) => s.path))).toEqual(new Set(['/v1/completions']));
  });

  it('bills the replay to one tenant with --tenant', async () => {
    expect((await replay(baseline.base, '--sample', '6', '--tenant', 'release-replay')).code).toBe(0);
    const metered = await usageEvents(baseline);
    expect(metered).toHaveLength(6);
    expect(new Set(metered.map((e) => e.tenant))).toEqual(new Set(['release-replay']));
    expect(new Set(metered.map((e) => e.feature)).size).toBeGreaterThan(1);
    vllm.seen.splice(0);
  });

  it('exits 1, with the reason, when the upstream behind the sidecar fails', async () => {
    const gone = new FakeVllm();
    const upstream = await gone.start();
    await gone.stop();
    const broken = await startTestProxy(upstream);
    try {
      const result = await replay(broken.base, '--sample', '5');
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('sent 5, answered 0, failed 5');
      expect(result.stderr).toMatch(
        /chargeback: 5 failed: HTTP 5\d\d \(first: replay-evt-\d+: http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: /,
      );
      expect(result.stderr).toContain('the replay is partial (5 of 5 failed)');
    } finally {
      await broken.stop();
    }
  });

  it('tries a refused connection again, and no request that reached the server', async () => {
    const gone = new FakeVllm();
    const url = await gone.start();
    await gone.stop();
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls += 1;
      return fetch(input, init);
    };
    const options = parseReplayWorkloadArgs([
      '--events',
      eventsPath,
      '--model',
      'fake-model',
      '--endpoint',
      url.href,
      '--sample',
      '2',
      '--per-group',
      '0',
      '--prices',
      'prices/azure-a100.json',
    ]);
    if (options === 'help') throw new Error('unexpected help');
    const waits: number[] = [];
    const outcome = await runReplayWorkload(options, {
      fetch: counting,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
      env: {},
    });
    expect(outcome.code).toBe(1);
    expect(outcome.summary.failures.map((f) => [f.kind, f.count])).toEqual([['connection refused', 2]]);
    expect(calls).toBe(2 * 4);
    expect(waits.sort((a, b) => a - b)).toEqual([500, 500, 1000, 1000, 2000, 2000]);

    calls = 0;
    const broken = await startTestProxy(url);
    try {
      const viaSidecar = await runReplayWorkload(
        { ...options, endpoint: new URL(broken.base) },
        {
          fetch: counting,
          env: {},
        },
      );
      expect(viaSidecar.code).toBe(1);
      expect(calls).toBe(2);
    } finally {
      await broken.stop();
    }
  });

  it('exits 2 on bad arguments, and on events without that model', async () => {
    expect((await runMain(['replay-workload', '--events', eventsPath])).stderr).toContain(
      'replay-workload needs --model, --endpoint',
    );
    expect((await replay(baseline.base, '--api', 'responses')).stderr).toContain(
      '--api must be chat or completions, got "responses"',
    );
    expect((await replay(baseline.base, '--sample', '0')).code).toBe(2);
    expect((await replay('ftp://x')).stderr).toContain('--endpoint must be an http(s) URL');
    const none = await runMain([
      'replay-workload',
      '--events',
      eventsPath,
      '--model',
      'mistral',
      '--endpoint',
      baseline.base,
      '--prices',
      'prices/azure-a100.json',
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      'has no completed generation of model mistral (models there: fake-model, qwen)',
    );
    expect(await usageEvents(baseline)).toHaveLength(0);
  });

  it('says how many lines it refused and why, when none of them is a valid usage event', async () => {
    const broken = join(dir, 'broken.ndjson');
    const hostile = usage({ eventId: 'h-1', model: 'fake-model', gpuSku: SKU, tenant: 'evil\u001b[31m' });
    writeFileSync(
      broken,
      [
        'not json',
        JSON.stringify(hostile),
        JSON.stringify(usage({ eventId: 'h-2', model: 'fake-model', gpuSku: 'Standard_NC6' })),
      ].join('\n'),
    );
    const result = await runMain([
      'replay-workload',
      '--events',
      broken,
      '--model',
      'fake-model',
      '--endpoint',
      baseline.base,
      '--prices',
      'prices/azure-a100.json',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /has no completed generation of model fake-model \(no valid usage event; 3 line\(s\) refused, first: .*broken\.ndjson:1: not valid JSON/,
    );
    expect(await usageEvents(baseline)).toHaveLength(0);
  });
});
