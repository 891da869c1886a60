import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { CapacityClock } from '../../src/sidecar/capacity.js';
import { simulateDay } from '../../src/simulator/simulate.js';
import { runMain } from '../helpers/cli.js';
import { startTestProxy } from '../sidecar/proxy-harness.js';

/**
 * The canary's cost evidence end to end: a simulated day of two models is the real traffic; the
 * workload of one model is replayed through two sidecars (the version in service and the canary),
 * each run's usage and capacity events are what cost-gate --model reads.
 */
const DATE = '2026-12-05';
const MODEL = 'llama-3.1-8b-instruct';
let dir: string;
let vllm: FakeVllm;
let llamaEvents = 0;

async function replayedRun(name: string, ...extra: string[]): Promise<string> {
  const identity = { pod: `replay-${name}`, gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1, model: MODEL };
  const events: Record<string, unknown>[] = [];
  const clock = new CapacityClock(identity, 60_000, (e) => events.push(e));
  const proxy = await startTestProxy(await vllm.start(), { identity, emit: (e) => events.push(e) });
  try {
    const result = await runMain([
      'replay-workload',
      '--events',
      join(dir, 'traffic.ndjson'),
      '--model',
      MODEL,
      '--endpoint',
      proxy.base,
      '--concurrency',
      '8',
      '--prices',
      'prices/azure-a100.json',
      ...extra,
    ]);
    expect(result.code, result.stderr).toBe(0);
    await proxy.idle();
  } finally {
    await proxy.stop();
    clock.stop();
  }
  const path = join(dir, `${name}.ndjson`);
  writeFileSync(path, events.map((e) => JSON.stringify(e)).join('\n'));
  return path;
}

/** cost-gate on two runs against the reported day, any increase within the limit: the evidence is what is tested. */
function costGate(baseline: string, candidate: string, out: string, ...extra: string[]) {
  return runMain([
    'cost-gate',
    '--baseline',
    baseline,
    '--candidate',
    candidate,
    '--traffic',
    join(dir, 'reports'),
    '--out',
    join(dir, out),
    '--max-increase',
    '1000',
    ...extra,
  ]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'replay-cost-gate-'));
  const lines = [...simulateDay({ date: DATE, pods: 6, seed: 11, requests: 600 })].map((e) =>
    JSON.stringify(e.json),
  );
  writeFileSync(join(dir, 'traffic.ndjson'), lines.join('\n'));
  llamaEvents = new Set(
    lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'usage' && e.model === MODEL && e.status === 'ok' && e.completionTokens !== 0)
      .map((e) => e.eventId),
  ).size;
  const report = await runMain([
    'report',
    '--events',
    join(dir, 'traffic.ndjson'),
    '--prices',
    'prices/azure-a100.json',
    '--date',
    DATE,
    '--out',
    join(dir, 'reports'),
  ]);
  expect(report.code, report.stderr).toBe(0);
  vllm = new FakeVllm();
}, 120_000);

afterAll(async () => {
  await vllm.stop();
});

describe("a canary's cost evidence: replay-workload, then cost-gate --model", () => {
  it("judges the replayed model's groups from the two replays, and only them", async () => {
    const baseline = await replayedRun('baseline', '--sample', '100000', '--per-group', '0');
    await vllm.stop();
    const candidate = await replayedRun('candidate', '--sample', '100000', '--per-group', '0');
    const gate = (out: string, ...extra: string[]) =>
      costGate(baseline, candidate, out, '--min-requests', '1', ...extra);
    const everyModel = await gate('all');
    expect(everyModel.code).toBe(1);
    expect(everyModel.stderr).toMatch(
      /qwen2\.5-14b-instruct \/ [^ ]+ has real traffic .* but the baseline run served none of it/,
    );

    const result = await gate('llama', '--model', MODEL);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'llama', 'cost-gate.json'), 'utf8')) as {
      judgedModel: string;
      groups: {
        model: string;
        baseline: { requests: number } | null;
        candidate: { requests: number } | null;
      }[];
    };
    expect(json.judgedModel).toBe(MODEL);
    expect(json.groups.length).toBeGreaterThan(1);
    expect(json.groups.every((g) => g.model === MODEL)).toBe(true);
    // Every ok generation of the model was replayed in each run, and the runs hold the same requests.
    const measured = (side: 'baseline' | 'candidate') =>
      json.groups.reduce((sum, g) => sum + (g[side]?.requests ?? 0), 0);
    expect(measured('baseline')).toBe(measured('candidate'));
    expect(measured('baseline')).toBe(llamaEvents);
    expect(llamaEvents).toBeGreaterThan(50);
  }, 120_000);

  it("measures every group of a small sample enough for the gate's --min-requests, repeating a small group's requests", async () => {
    const runs = async (label: string, ...extra: string[]) => {
      const baseline = await replayedRun(`${label}-baseline`, '--sample', '20', ...extra);
      await vllm.stop();
      const candidate = await replayedRun(`${label}-candidate`, '--sample', '20', ...extra);
      await vllm.stop();
      return costGate(baseline, candidate, `${label}-gate`, '--model', MODEL);
    };
    // A uniform sample of 20 leaves most groups under the gate's default of 20 requests.
    const uniform = await runs('uniform', '--per-group', '0');
    expect(uniform.code).toBe(1);
    expect(uniform.stderr).toMatch(/run served \d+ request\(s\), fewer than the 20 needed to measure/);
    // The default floor tops every group up to 20, repeating the events of groups that have fewer.
    const floored = await runs('floored');
    expect(floored.code, floored.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'floored-gate', 'cost-gate.json'), 'utf8')) as {
      groups: { baseline: { requests: number } | null; candidate: { requests: number } | null }[];
    };
    expect(json.groups.length).toBeGreaterThan(1);
    for (const g of json.groups) {
      expect(g.baseline?.requests).toBeGreaterThanOrEqual(20);
      expect(g.candidate?.requests).toBe(g.baseline?.requests);
    }
  }, 180_000);
});
