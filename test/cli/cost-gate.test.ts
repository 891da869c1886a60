import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { simulateDay, type SimulationOptions } from '../../src/simulator/simulate.js';
import { runMain } from '../helpers/cli.js';

let dir: string;
const WORKLOAD: SimulationOptions = { date: '2026-12-05', pods: 6, seed: 5, requests: 4000 };

async function write(path: string, options: SimulationOptions): Promise<string> {
  const stream = createWriteStream(path);
  for (const event of simulateDay(options)) stream.write(`${JSON.stringify(event.json)}\n`);
  stream.end();
  await finished(stream);
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cost-gate-'));
  for (const [i, date] of ['2026-11-28', '2026-11-29'].entries()) {
    const events = await write(join(dir, `${date}.ndjson`), { date, pods: 6, seed: 50 + i, requests: 6000 });
    expect(
      (
        await runMain([
          'report',
          '--events',
          events,
          '--prices',
          'prices/azure-a100.json',
          '--date',
          date,
          '--out',
          join(dir, 'traffic'),
        ])
      ).code,
    ).toBe(0);
  }
  await write(join(dir, 'baseline.ndjson'), WORKLOAD);
  await write(join(dir, 'same.ndjson'), WORKLOAD);
  await write(join(dir, 'longer.ndjson'), { ...WORKLOAD, variant: { promptScale: { 'summarize-docs': 3 } } });
  await write(join(dir, 'moved.ndjson'), {
    ...WORKLOAD,
    variant: {
      models: {
        'llama-3.1-8b-instruct': { gpuSku: 'Standard_NC48ads_A100_v4', gpuCount: 2, stepFactor: 0.65 },
      },
    },
  });
  await write(join(dir, 'faster.ndjson'), {
    ...WORKLOAD,
    variant: {
      models: {
        'qwen2.5-14b-instruct': { gpuSku: 'Standard_NC48ads_A100_v4', gpuCount: 2, stepFactor: 0.7 },
      },
    },
  });
}, 240_000);

const gate = (candidate: string, out: string, ...extra: string[]) =>
  runMain([
    'cost-gate',
    '--baseline',
    join(dir, 'baseline.ndjson'),
    '--candidate',
    join(dir, candidate),
    '--traffic',
    join(dir, 'traffic'),
    '--out',
    join(dir, out),
    '--min-requests',
    '5',
    ...extra,
  ]);

describe('chargeback cost-gate', () => {
  it('passes the same release with no change, and writes both files', async () => {
    const result = await gate('same.ndjson', 'same');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('**PASS**: monthly GPU cost +$0 (+0.0%), within the 5% limit');
    const json = JSON.parse(readFileSync(join(dir, 'same', 'cost-gate.json'), 'utf8')) as {
      verdict: string;
      changeMonthlyUsd: string;
      trafficDays: string[];
    };
    expect(json).toMatchObject({
      verdict: 'pass',
      changeMonthlyUsd: '0.000000',
      trafficDays: ['2026-11-28', '2026-11-29'],
    });
    expect(readFileSync(join(dir, 'same', 'cost-gate.md'), 'utf8')).toBe(result.stdout);
  });

  it("catches longer prompts of one feature in that feature's rows", async () => {
    const result = await gate('longer.ndjson', 'longer', '--max-increase', '0');
    expect(result.code).toBe(1);
    const json = JSON.parse(readFileSync(join(dir, 'longer', 'cost-gate.json'), 'utf8')) as {
      groups: { feature: string; changeMonthlyUsd: string }[];
    };
    const rising = json.groups.filter((g) => Number(g.changeMonthlyUsd) > 0).map((g) => g.feature);
    expect(new Set(rising)).toEqual(new Set(['summarize-docs']));
  });

  it('passes a faster engine and says it costs less; shows a model moved to another SKU', async () => {
    const faster = await gate('faster.ndjson', 'faster');
    expect(faster.code).toBe(0);
    expect(faster.stdout).toMatch(
      /\*\*PASS\*\*: monthly GPU cost -\$\d+ \(-\d+\.\d%\): the candidate costs less/,
    );
    const groups = (
      JSON.parse(readFileSync(join(dir, 'faster', 'cost-gate.json'), 'utf8')) as {
        groups: { model: string; changeMonthlyUsd: string }[];
      }
    ).groups;
    for (const g of groups) {
      if (g.model === 'qwen2.5-14b-instruct') expect(Number(g.changeMonthlyUsd)).toBeLessThan(0);
      else expect(g.changeMonthlyUsd).toBe('0.000000');
    }
    const moved = await gate('moved.ndjson', 'moved');
    expect(moved.stdout).toContain(
      'llama\\-3\\.1\\-8b\\-instruct (Standard\\_NC24ads\\_A100\\_v4 → Standard\\_NC48ads\\_A100\\_v4)',
    );
  });

  it('shows the fixed cost of the node pools from two Bicep snapshots beside the usage-based change', async () => {
    const result = await gate(
      'same.ndjson',
      'fixed',
      '--baseline-infra',
      'bicep/dev.snapshot.json',
      '--candidate-infra',
      'bicep/prod.snapshot.json',
    );
    expect(result.code).toBe(0);
    // dev's GPU pools 0-2 and 0-1 nodes, prod's 2-8 and 1-4 (their parameters files).
    expect(result.stdout).toContain("| at the pools' minimum | $0.00 | $10,725.16 | +$10,725.16 |");
    expect(result.stdout).toContain("| at the pools' maximum | $10,725.16 | $42,900.64 | +$32,175.48 |");
  });

  it('fails closed, naming the group, when the candidate did not serve a feature with real traffic', async () => {
    const partial = join(dir, 'partial.ndjson');
    writeFileSync(
      partial,
      readFileSync(join(dir, 'baseline.ndjson'), 'utf8')
        .split('\n')
        .filter((line) => !line.includes('"feature":"translate"'))
        .join('\n'),
    );
    const result = await gate('partial.ndjson', 'partial');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /translate \/ [^ ]+ \/ batch has real traffic \(\d+ requests in 2 day\(s\)\) but the candidate run served none of it/,
    );
    expect(result.stdout).toContain('**FAIL**: not enough evidence');
  });

  it("judges a canary of one model with --model, listing the other models' groups as not judged", async () => {
    const llama = join(dir, 'llama-only.ndjson');
    writeFileSync(
      llama,
      readFileSync(join(dir, 'baseline.ndjson'), 'utf8')
        .split('\n')
        .filter((line) => line.includes('"model":"llama-3.1-8b-instruct"'))
        .join('\n'),
    );
    const without = await gate('llama-only.ndjson', 'llama-all');
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('qwen2.5-14b-instruct');
    const result = await gate('llama-only.ndjson', 'llama', '--model', 'llama-3.1-8b-instruct');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Judged: the groups of model llama\\-3\\.1\\-8b\\-instruct only.');
    const json = JSON.parse(readFileSync(join(dir, 'llama', 'cost-gate.json'), 'utf8')) as {
      judgedModel: string | null;
      groups: { model: string }[];
      unprojected: string[];
    };
    expect(json.judgedModel).toBe('llama-3.1-8b-instruct');
    expect(json.groups.length).toBeGreaterThan(0);
    expect(new Set(json.groups.map((g) => g.model))).toEqual(new Set(['llama-3.1-8b-instruct']));
    expect(json.unprojected.some((g) => g.includes(' / qwen2.5-14b-instruct / '))).toBe(true);
    expect(json.unprojected.every((g) => !g.includes(' / llama-3.1-8b-instruct / '))).toBe(true);
  });

  it('fails closed when --model names a model the traffic has no volume for', async () => {
    const result = await gate('same.ndjson', 'no-model', '--model', 'mistral-7b');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'model mistral-7b has no real traffic in the 2 day(s) found: there is nothing to project its runs onto',
    );
    expect((await gate('same.ndjson', 'bad', '--model', '')).stderr).toContain('--model needs a model name');
  });

  it('exits 2 on bad arguments', async () => {
    expect((await runMain(['cost-gate', '--baseline', 'x'])).code).toBe(2);
    expect((await gate('same.ndjson', 'bad', '--max-increase', 'lots')).stderr).toContain(
      '--max-increase must be a percentage',
    );
    expect((await gate('nope.ndjson', 'bad')).stderr).toContain('cannot read --candidate');
  });
});
