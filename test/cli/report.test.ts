import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HELP } from '../../src/cli/main.js';
import { parseMetrics } from '../../src/domain/metrics/build.js';
import { runCli, runMain } from '../helpers/cli.js';
import { at, capacity, DAY, usage } from '../helpers/events.js';

const PRICES = 'prices/azure-a100.json';
const SKU = 'Standard_NC24ads_A100_v4';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cli-'));
}

const run = runMain;

function ndjson(events: readonly (Record<string, unknown> | string)[]): string {
  return events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n';
}

const fleet = (): Record<string, unknown>[] => [
  capacity({ gpuSku: SKU, windowStart: at(0), windowEnd: at(3600) }),
  usage({ gpuSku: SKU, tenant: 'contoso', startedAt: at(10), finishedAt: at(70) }),
  usage({ gpuSku: SKU, tenant: 'fabrikam', feature: 'search', startedAt: at(40), finishedAt: at(100) }),
];

async function report(eventsPath: string, out: string, extra: string[] = []) {
  return run(['report', '--events', eventsPath, '--prices', PRICES, '--date', DAY, '--out', out, ...extra]);
}

describe('chargeback report', () => {
  it('writes the CSV, the summary and the rejected lines, and exits 0', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'events.ndjson'), ndjson(fleet()));
    const out = join(dir, 'out');
    const result = await report(join(dir, 'events.ndjson'), out);
    expect(result.code).toBe(0);
    expect(readFileSync(join(out, `chargeback-${DAY}.csv`), 'utf8')).toContain('contoso');
    const summary = JSON.parse(readFileSync(join(out, `summary-${DAY}.json`), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(summary).toMatchObject({ date: DAY, revision: 1, currency: 'USD', eventsRead: 3, rejected: 0 });
    expect(readFileSync(join(out, `rejected-${DAY}.ndjson`), 'utf8')).toBe('');
  });

  it('writes the day’s metrics beside the CSV, with the CSV’s groups and money', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'events.ndjson'), ndjson(fleet()));
    const out = join(dir, 'out');
    expect((await report(join(dir, 'events.ndjson'), out)).code).toBe(0);
    const metrics = parseMetrics(readFileSync(join(out, `metrics-${DAY}.json`), 'utf8'));
    const csv = readFileSync(join(out, `chargeback-${DAY}.csv`), 'utf8').split('\r\n');
    const costOf = (tenant: string) =>
      Number(csv.find((line) => line.includes(`,${tenant},`))?.split(',')[11]);
    expect(metrics).toMatchObject({ date: DAY, revision: 1, currency: 'USD' });
    expect(metrics.groups.map((g) => [g.tenant, g.requests, g.costUsd])).toEqual([
      ['contoso', 1, costOf('contoso')],
      ['fabrikam', 1, costOf('fabrikam')],
    ]);
    expect(metrics.models.map((m) => [m.model, m.fleetGpuSeconds, m.idleGpuSeconds])).toEqual([
      ['llama-8b', 3600, 3600 - 90],
    ]);
    await report(join(dir, 'events.ndjson'), out);
    expect(parseMetrics(readFileSync(join(out, `metrics-${DAY}.json`), 'utf8')).revision).toBe(2);
  });

  it('lists every hostile line in the rejected file with its file, line and reason, and still exits 0', async () => {
    const dir = tempDir();
    const lines = [
      ...fleet(),
      '{"type":"usage",',
      usage({ gpuSku: SKU, promptTokens: '12' }),
      usage({ gpuSku: 'Standard_NV6' }),
      usage({ gpuSku: SKU, startedAt: at(50), finishedAt: at(40) }),
      usage({ gpuSku: SKU, completionTokens: -1 }),
      usage({ gpuSku: SKU, tenant: 'evil\u001b[31m' }),
      `{"pad":"${'x'.repeat(10 * 1024 * 1024)}"}`,
    ];
    const file = join(dir, 'events.ndjson');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ndjson(lines).replaceAll('\n', '\r\n'))]),
    );
    const out = join(dir, 'out');
    expect((await report(file, out)).code).toBe(0);
    const rejected = readFileSync(join(out, `rejected-${DAY}.ndjson`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; line: number; reason: string });
    expect(rejected.map((r) => [r.line, r.reason.split(':')[0]])).toEqual([
      [4, 'not valid JSON'],
      [5, 'promptTokens'],
      [6, 'gpuSku'],
      [7, 'finishedAt'],
      [8, 'completionTokens'],
      [9, 'tenant'],
      [10, 'line is 10485770 characters, over the 1 MiB limit'],
    ]);
    expect(rejected.every((r) => r.file === file)).toBe(true);
    const summary = JSON.parse(readFileSync(join(out, `summary-${DAY}.json`), 'utf8')) as Record<
      string,
      number
    >;
    expect(summary).toMatchObject({ eventsRead: 10, usageEvents: 2, capacityEvents: 1, rejected: 7 });
  });

  it('reports an empty file as a day with no cost', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'empty.ndjson'), '');
    const result = await report(join(dir, 'empty.ndjson'), join(dir, 'out'));
    expect(result.code).toBe(0);
    expect(
      readFileSync(join(dir, 'out', `chargeback-${DAY}.csv`), 'utf8')
        .trim()
        .split('\r\n'),
    ).toHaveLength(1);
  });

  it('warns about an empty directory and writes an empty report', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'events'));
    const result = await report(join(dir, 'events'), join(dir, 'out'));
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('no *.ndjson or *.jsonl files');
  });

  it('gives the next revision when the day is reported again', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'e.ndjson'), ndjson(fleet()));
    await report(join(dir, 'e.ndjson'), join(dir, 'out'));
    await report(join(dir, 'e.ndjson'), join(dir, 'out'));
    const summary = JSON.parse(readFileSync(join(dir, 'out', `summary-${DAY}.json`), 'utf8')) as {
      revision: number;
    };
    expect(summary.revision).toBe(2);
  });

  it.each([
    [['report'], 'missing --events, --prices, --date, --out'],
    [
      ['report', '--events', 'x', '--prices', PRICES, '--date', '2026-13-01', '--out', 'o'],
      '--date must be a calendar day',
    ],
    [
      ['report', '--events', '/nonexistent/path', '--prices', PRICES, '--date', DAY, '--out', '/tmp/o'],
      'cannot read --events',
    ],
    [
      ['report', '--events', 'x', '--prices', '/nonexistent.json', '--date', DAY, '--out', 'o'],
      'cannot read --prices',
    ],
    [
      ['report', '--events', 'x', '--prices', PRICES, '--date', DAY, '--out', 'o', '--idle', 'spread'],
      '--idle must be separate or share',
    ],
    [['report', '--bogus'], "Unknown option '--bogus'"],
    [['frobnicate'], 'unknown command "frobnicate"'],
  ])('exits 2 with a one-line reason for %j', async (args, reason) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(reason);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 naming the problem in a broken price card', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'prices.json'),
      JSON.stringify({
        currency: 'USD',
        skus: [{ sku: 'X', gpusPerVm: 1, pricePerVmHour: 0, effectiveFrom: '2026-01-01T00:00:00Z' }],
      }),
    );
    const result = await run([
      'report',
      '--events',
      dir,
      '--prices',
      join(dir, 'prices.json'),
      '--date',
      DAY,
      '--out',
      dir,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('skus.0.pricePerVmHour: must be a positive number');
  });

  it('prints help for the tool and for report', async () => {
    expect((await run(['--help'])).stdout).toMatch(/report[\s\S]*simulate/);
    const help = await run(['report', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--idle MODE');
  });

  it('gives the same CSV however the events are split over files', async () => {
    const events = [
      ...fleet(),
      usage({ gpuSku: SKU, tenant: 'northwind', startedAt: at(60), finishedAt: at(65) }),
      capacity({ gpuSku: SKU, pod: 'pod-b', windowStart: at(0), windowEnd: at(600) }),
    ];
    const single = tempDir();
    writeFileSync(join(single, 'all.ndjson'), ndjson(events));
    await report(join(single, 'all.ndjson'), join(single, 'out'));
    const expected = readFileSync(join(single, 'out', `chargeback-${DAY}.csv`), 'utf8');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 3 }), { minLength: events.length, maxLength: events.length }),
        async (assignment) => {
          const dir = tempDir();
          mkdirSync(join(dir, 'events'));
          for (let f = 0; f < 4; f++) {
            const mine = events.filter((_, i) => assignment[i] === f);
            if (mine.length > 0) writeFileSync(join(dir, 'events', `part-${f}.ndjson`), ndjson(mine));
          }
          await report(join(dir, 'events'), join(dir, 'out'));
          expect(readFileSync(join(dir, 'out', `chargeback-${DAY}.csv`), 'utf8')).toBe(expected);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('the command line as a process', () => {
  it('runs from source: help exits 0, bad arguments exit 2 with a one-line reason', async () => {
    expect(await runCli(['--help'])).toMatchObject({ code: 0, stdout: `${HELP}\n` });
    const bad = await runCli(['report', '--date', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^chargeback: [^\n]+\n$/);
  });

  // bin/chargeback.js loads the build in dist/, so this test is only meaningful after
  // `npm run build`, which `npm test` runs first; a build whose help differs from the source fails.
  it('runs as `chargeback` from the repository root through the built bin/chargeback.js', async () => {
    expect(existsSync('dist/src/cli/entry.js'), 'no build in dist/: run `npm run build`').toBe(true);
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/chargeback.js', '--help']);
    expect(stdout, 'dist/ is older than src/: run `npm run build`').toBe(`${HELP}\n`);
  });
});
