import { mkdtemp, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Papa from 'papaparse';
import { beforeAll, describe, expect, it } from 'vitest';
import { at, capacity, DAY, usage } from '../helpers/events.js';
import { runMain } from '../helpers/cli.js';

let dir: string;
let out: string;

const PRICES = {
  currency: 'USD',
  skus: [{ sku: 'TEST_NC_1GPU', gpusPerVm: 1, pricePerVmHour: 3.6, effectiveFrom: '2026-01-01T00:00:00Z' }],
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'explain-'));
  out = join(dir, 'out');
  const events = [
    capacity({ pod: 'pod-a', windowStart: at(0), windowEnd: at(600) }),
    capacity({ pod: 'pod-b', windowStart: at(0), windowEnd: at(600) }),
    usage({
      requestId: 'alone',
      pod: 'pod-b',
      startedAt: at(100),
      firstTokenAt: at(101),
      finishedAt: at(130),
    }),
    usage({
      requestId: 'busy',
      startedAt: at(0),
      firstTokenAt: at(1),
      finishedAt: at(60),
      feature: 'search',
    }),
    usage({
      requestId: 'busy-2',
      startedAt: at(30),
      firstTokenAt: at(31),
      finishedAt: at(90),
      feature: 'search',
    }),
    // A retry that reused its X-Request-Id: two attempts, two events.
    usage({ requestId: 'retried', status: 'error', startedAt: at(200), finishedAt: at(201) }),
    usage({ requestId: 'retried', startedAt: at(210), firstTokenAt: at(211), finishedAt: at(240) }),
    usage({
      requestId: 'evil\u001b[31m\nrequest 0 on 2026: 9 attempt(s)',
      startedAt: at(300),
      finishedAt: at(310),
    }),
    // Two tenants that chose the same X-Request-Id, on a pod of their own.
    capacity({ pod: 'pod-c', windowStart: at(0), windowEnd: at(600) }),
    usage({ requestId: 'shared', tenant: 'bob', pod: 'pod-c', startedAt: at(400), finishedAt: at(420) }),
    usage({ requestId: 'shared', tenant: 'bob', pod: 'pod-c', startedAt: at(430), finishedAt: at(440) }),
    usage({
      requestId: 'shared',
      tenant: 'e\u0301cole',
      pod: 'pod-c',
      startedAt: at(450),
      finishedAt: at(460),
    }),
    usage({ requestId: 'bob-only', tenant: 'bob', pod: 'pod-c', startedAt: at(470), finishedAt: at(480) }),
  ];
  await writeFile(join(dir, 'prices.json'), JSON.stringify(PRICES));
  await writeFile(join(dir, 'day.ndjson'), events.map((e) => JSON.stringify(e)).join('\n'));
  const report = await runMain([
    'report',
    '--events',
    join(dir, 'day.ndjson'),
    '--prices',
    join(dir, 'prices.json'),
    '--date',
    DAY,
    '--out',
    out,
    '--idle',
    'share',
  ]);
  expect(report.code).toBe(0);
});

const explainAs = (tenant: string, ...args: string[]) =>
  runMain(['explain', '--reports', out, '--date', DAY, '--tenant', tenant, ...args]);
const explain = (...args: string[]) => explainAs('acme', ...args);

describe('chargeback explain', () => {
  it('holds the per-request costs to the report: they add up to the summary and to every CSV row', () => {
    const lines = gunzipSync(readFileSync(join(out, `requests-${DAY}.ndjson.gz`)))
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    const nanos = (usd: string) => Number(usd.replace('.', ''));
    const summary = JSON.parse(readFileSync(join(out, `summary-${DAY}.json`), 'utf8')) as Record<
      string,
      number
    >;
    const total = lines.reduce((sum, l) => sum + nanos(l.costUsd ?? ''), 0);
    // Nano-dollars summed, then compared with the summary's micro-dollars.
    expect(Math.round(total / 1000)).toBe(Math.round((summary.allocatedCostUsd ?? 0) * 1e6));
    const rows = Papa.parse<Record<string, string>>(
      readFileSync(join(out, `chargeback-${DAY}.csv`), 'utf8'),
      {
        header: true,
        skipEmptyLines: true,
      },
    ).data;
    for (const row of rows) {
      const mine = lines.filter((l) => l.feature === row.feature && l.tenant === row.tenant);
      const sum = mine.reduce((s, l) => s + nanos(l.costUsd ?? ''), 0);
      expect(Math.abs(sum / 1e9 - Number(row.costUsd))).toBeLessThanOrEqual(1e-6);
    }
  });

  it('explains a request: phases, tokens, GPU-seconds by part, cost, its pod and its feature', async () => {
    const { code, stdout } = await explain('--request-id', 'busy');
    expect(code).toBe(0);
    expect(stdout).toContain('request busy of tenant acme on 2026-11-22: 1 attempt(s)');
    expect(stdout).toMatch(/prefill 1000 ms, decode 59000 ms, 60000 ms in all/);
    expect(stdout).toMatch(/its pod ran 1\.5 requests at once on average while it ran, 2 at most/);
    expect(stdout).toMatch(/feature search that day: 2 requests, median/);
  });

  it('charges a request alone on its pod all of the pod held time under idle share', async () => {
    const { stdout } = await explain('--request-id', 'alone', '--json');
    const e = JSON.parse(stdout) as {
      attempts: { gpuSeconds: { total: string; idleShare: string }; costUsd: string }[];
    };
    expect(e.attempts[0]?.gpuSeconds).toMatchObject({ total: '600.000000', idleShare: '570.000000' });
    expect(e.attempts[0]?.costUsd).toBe('0.600000000');
  });

  it('lists both attempts of an id that a retry reused', async () => {
    const { stdout } = await explain('--request-id', 'retried', '--json');
    const e = JSON.parse(stdout) as { attempts: { status: string }[] };
    expect(e.attempts.map((a) => a.status)).toEqual(['error', 'ok']);
  });

  it('names the id and the date when the id is not in the day: exit 1', async () => {
    const { code, stderr } = await explain('--request-id', 'never');
    expect(code).toBe(1);
    expect(stderr).toContain('no request "never" of tenant "acme" on 2026-11-22');
  });

  it('cannot be made to print a forged line or a terminal escape by a hostile request id', async () => {
    const { stdout } = await explain('--request-id', 'evil\u001b[31m\nrequest 0 on 2026: 9 attempt(s)');
    expect(stdout).toContain('1 attempt(s)');
    expect(stdout.split('\n').filter((l) => l.startsWith('request '))).toHaveLength(1);
    expect(stdout).not.toContain('\u001b');
  });

  it('lists a feature’s most expensive requests, most expensive first', async () => {
    const { stdout } = await explain('--top', '5', '--feature', 'chat', '--json');
    const top = JSON.parse(stdout) as { requests: { costUsd: string; feature: string }[] };
    const costs = top.requests.map((r) => Number(r.costUsd));
    expect(costs).toEqual([...costs].sort((a, b) => b - a));
    expect(new Set(top.requests.map((r) => r.feature))).toEqual(new Set(['chat']));
  });

  it('exits 2 naming the files when the day has no per-request costs', async () => {
    const { code, stderr } = await runMain([
      'explain',
      '--reports',
      dir,
      '--date',
      DAY,
      '--tenant',
      'acme',
      '--request-id',
      'x',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain(`requests-${DAY}.ndjson.gz`);
  });

  it('exits 2 without --request-id or --top', async () => {
    expect((await explain()).code).toBe(2);
  });
});

describe('chargeback explain looks a request up by tenant and id together', () => {
  const attempts = (stdout: string) =>
    (JSON.parse(stdout) as { tenant: string; attempts: { tenant: string; eventId: string }[] }).attempts;

  it("shows only the tenant's own attempts under an id another tenant also used", async () => {
    const bob = await explainAs('bob', '--request-id', 'shared', '--json');
    expect(bob.code).toBe(0);
    expect(attempts(bob.stdout).map((a) => a.tenant)).toEqual(['bob', 'bob']);
    const ecole = await explainAs('\u00e9cole', '--request-id', 'shared', '--json');
    expect(attempts(ecole.stdout).map((a) => a.tenant)).toEqual(['\u00e9cole']);
  });

  it("finds the tenant's requests whichever way its name is spelled (NFC)", async () => {
    const { code, stdout } = await explainAs('e\u0301cole', '--request-id', 'shared');
    expect(code).toBe(0);
    expect(stdout).toContain('request shared of tenant \u00e9cole on 2026-11-22: 1 attempt(s)');
  });

  it("answers an id that only another tenant used exactly as an unknown id: exit 1, nothing of the other's", async () => {
    const other = await explainAs('acme', '--request-id', 'bob-only');
    const unknown = await explainAs('acme', '--request-id', 'nobody-used-this');
    expect([other.code, unknown.code]).toEqual([1, 1]);
    expect(other.stdout).toBe('');
    expect(other.stderr).toBe(unknown.stderr.replace('nobody-used-this', 'bob-only'));
    expect(other.stderr).not.toContain('bob"');
    const json = await explainAs('acme', '--request-id', 'bob-only', '--json');
    expect(JSON.parse(json.stderr.replace('chargeback: ', ''))).toEqual({
      error: `no request bob-only of tenant acme on ${DAY}`,
    });
  });

  it("lists the most expensive requests of the tenant's feature only", async () => {
    const { stdout } = await explainAs('bob', '--top', '5', '--feature', 'chat', '--json');
    const top = JSON.parse(stdout) as { tenant: string; requests: { tenant: string; requestId: string }[] };
    expect(top.tenant).toBe('bob');
    expect(top.requests.map((r) => r.tenant)).toEqual(['bob', 'bob', 'bob']);
  });

  it("compares a request with its tenant's feature that day, not with other tenants' under the same name", async () => {
    const { stdout } = await explainAs('bob', '--request-id', 'bob-only');
    expect(stdout).toMatch(/feature chat that day: 3 requests, median/);
  });

  it('exits 2 without --tenant, or with a tenant the names rule refuses', async () => {
    const none = await runMain(['explain', '--reports', out, '--date', DAY, '--request-id', 'shared']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--tenant');
    const bad = await explainAs('bob ', '--request-id', 'shared');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--tenant must not begin or end with whitespace');
  });
});
