import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Papa from 'papaparse';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runMain } from '../helpers/cli.js';
import { freePort } from '../../dev/free-port.js';
import { at, capacity, DAY, usage } from '../helpers/events.js';

// Hostile and unusual command lines: every failure is one line on stderr and an exit status
// (contracts.md §6), never a stack trace, a hang or a half-written file.

const PRICES = 'prices/azure-a100.json';
const SKU = 'Standard_NC24ads_A100_v4';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cli-hard-'));
}

const run = runMain;

/** Exit 2 and exactly one line on stderr that matches `reason`. */
async function expectUsageFailure(args: string[], reason: RegExp): Promise<void> {
  const result = await run(args);
  expect(result.stderr).toMatch(/^chargeback: [^\n]*\n$/);
  expect(result.stderr).toMatch(reason);
  expect(result.code).toBe(2);
}

const events = (): string =>
  [
    capacity({ gpuSku: SKU, windowStart: at(0), windowEnd: at(3600) }),
    usage({ gpuSku: SKU, tenant: 'contoso', startedAt: at(10), finishedAt: at(70) }),
  ]
    .map((e) => JSON.stringify(e))
    .join('\n') + '\n';

const reportArgs = (eventsPath: string, out: string): string[] => [
  'report',
  '--events',
  eventsPath,
  '--prices',
  PRICES,
  '--date',
  DAY,
  '--out',
  out,
];

describe('report: input that is not what it seems', () => {
  it('rejects a line with invalid UTF-8 naming the byte offset, and bills a validly encoded U+FFFD', async () => {
    const dir = tempDir();
    const good = events();
    const bad = JSON.stringify(
      usage({ gpuSku: SKU, tenant: 'contoso-X', startedAt: at(20), finishedAt: at(30) }),
    );
    const replacement = usage({ gpuSku: SKU, tenant: 'r\ufffd', startedAt: at(20), finishedAt: at(30) });
    const badBytes = Buffer.from(bad.replace('-X', '-\u00ff'), 'latin1'); // a lone 0xFF byte
    writeFileSync(
      join(dir, 'events.ndjson'),
      Buffer.concat([Buffer.from(good), badBytes, Buffer.from(`\n${JSON.stringify(replacement)}\n`)]),
    );
    const out = join(dir, 'out');
    const result = await run(reportArgs(join(dir, 'events.ndjson'), out));
    expect(result.code).toBe(0);
    const rejected = readFileSync(join(out, `rejected-${DAY}.ndjson`), 'utf8')
      .trim()
      .split('\n');
    const offset = Buffer.byteLength(good) + bad.indexOf('-X') + 1;
    expect(rejected.map((line) => (JSON.parse(line) as { line: number; reason: string }).reason)).toEqual([
      `invalid UTF-8 at byte offset ${offset} of the file`,
    ]);
    const summary = JSON.parse(readFileSync(join(out, `summary-${DAY}.json`), 'utf8')) as {
      rejected: number;
    };
    expect(summary.rejected).toBe(1);
    const rows = Papa.parse<Record<string, string>>(
      readFileSync(join(out, `chargeback-${DAY}.csv`), 'utf8'),
      {
        header: true,
        skipEmptyLines: true,
      },
    ).data;
    expect(rows.map((row) => row.tenant).sort()).toEqual(['(idle)', 'contoso', 'r\ufffd']);
  });

  it('follows a symbolic link to an events file in the events folder', async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    writeFileSync(join(elsewhere, 'day.ndjson'), events());
    mkdirSync(join(dir, 'events'));
    symlinkSync(join(elsewhere, 'day.ndjson'), join(dir, 'events', 'day.ndjson'));
    const result = await run(reportArgs(join(dir, 'events'), join(dir, 'out')));
    expect(result.code).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'out', `summary-${DAY}.json`), 'utf8')) as {
      eventsRead: number;
    };
    expect(summary.eventsRead).toBe(2);
  });

  it('exits 2 on a fifo in the events folder, without waiting for a writer', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.ndjson'), events());
    execFileSync('mkfifo', [join(dir, 'b.ndjson')]);
    await expectUsageFailure(reportArgs(dir, tempDir()), /b\.ndjson is not a regular file \(fifo\)/);
  });

  it('exits 2 when --prices is a fifo, without waiting for a writer', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'events.ndjson'), events());
    execFileSync('mkfifo', [join(dir, 'prices.json')]);
    const args = reportArgs(join(dir, 'events.ndjson'), tempDir());
    args[4] = join(dir, 'prices.json');
    await expectUsageFailure(args, /cannot read --prices .*not a regular file \(fifo\)/);
  });

  it('exits 2 when --events is itself a fifo', async () => {
    const fifo = join(tempDir(), 'events.ndjson');
    execFileSync('mkfifo', [fifo]);
    await expectUsageFailure(reportArgs(fifo, tempDir()), /neither a file nor a directory \(fifo\)/);
  });

  it('refuses an --out inside --events, directly or through a link', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'events.ndjson'), events());
    await expectUsageFailure(reportArgs(dir, join(dir, 'reports')), /--out .* is inside --events/);
    await expectUsageFailure(reportArgs(dir, dir), /--out .* is inside --events/);
    const out = tempDir();
    symlinkSync(out, join(dir, 'linked'));
    await expectUsageFailure(reportArgs(dir, out), /is the output folder/);
  });
});

describe('report: output that cannot be written', () => {
  it('exits 2 with one line when --out is a file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'events.ndjson'), events());
    writeFileSync(join(dir, 'taken'), '');
    await expectUsageFailure(
      reportArgs(join(dir, 'events.ndjson'), join(dir, 'taken')),
      /cannot write to --out/,
    );
  });

  it('exits 2 with one line when --out is a folder nobody may write (even root: /sys)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'events.ndjson'), events());
    await expectUsageFailure(reportArgs(join(dir, 'events.ndjson'), '/sys'), /cannot write to --out \/sys/);
  });

  it('leaves no .partial file and the previous report when a run fails at the end', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'events.ndjson'), events());
    const out = join(dir, 'out');
    expect((await run(reportArgs(join(dir, 'events.ndjson'), out))).code).toBe(0);
    const before = readFileSync(join(out, `summary-${DAY}.json`), 'utf8');
    // The rejected file cannot be put in place: a folder holds its name.
    const rejected = join(out, `rejected-${DAY}.ndjson`);
    execFileSync('rm', [rejected]);
    mkdirSync(join(rejected, 'x'), { recursive: true });
    await expectUsageFailure(reportArgs(join(dir, 'events.ndjson'), out), /cannot write to --out/);
    expect(readdirSync(out).filter((name) => name.endsWith('.partial'))).toEqual([]);
    expect(JSON.parse(readFileSync(join(out, `summary-${DAY}.json`), 'utf8'))).toMatchObject({
      revision: (JSON.parse(before) as { revision: number }).revision + 1,
    });
  });
});

describe('every subcommand fails in one line', () => {
  it.each([
    [['report'], /missing --events, --prices, --date, --out/],
    [
      ['report', '--events', '/nonexistent', '--prices', PRICES, '--date', DAY, '--out', '/tmp/x'],
      /cannot read --events/,
    ],
    [
      ['report', '--events', 'test', '--prices', 'prices', '--date', DAY, '--out', '/tmp/x'],
      /cannot read --prices/,
    ],
    [
      ['report', '--events', 'test', '--prices', '/nonexistent', '--date', DAY, '--out', '/tmp/x'],
      /cannot read --prices/,
    ],
    [['report', '--bogus'], /Unknown option '--bogus'/],
    [['simulate'], /missing --date, --out/],
    [
      ['simulate', '--date', DAY, '--out', 'x', '--requests', '1e12'],
      /--requests must be an integer from 0 to/,
    ],
    [
      ['simulate', '--date', DAY, '--out', 'x', '--requests', '99999999999999'],
      /--requests must be an integer/,
    ],
    [
      ['simulate', '--date', DAY, '--out', 'x', '--pods', '1000000000'],
      /--pods must be an integer from 1 to 1000/,
    ],
    [['simulate', '--date', DAY, '--out', 'x', '--pods', '1', '--requests', '2000000'], /per pod/],
    [['simulate', '--date', DAY, '--out', 'x', '--seed=-1'], /--seed must be an integer/],
    [['sidecar', '--listen', 'nonsense'], /SIDECAR_LISTEN: must be HOST:PORT/],
    [['bogus'], /unknown command "bogus"/],
    [
      ['report', '--events', '/no\u001b[2J\nsuch', '--prices', PRICES, '--date', DAY, '--out', '/tmp/x'],
      /no\\u001b\[2J such/,
    ],
  ])('%j', async (args, reason) => {
    await expectUsageFailure(args, reason);
  });

  it('simulate --out DIR exits 2 and writes nothing', async () => {
    const dir = tempDir();
    await expectUsageFailure(['simulate', '--date', DAY, '--out', dir, '--requests', '10'], /is a directory/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('simulate into a folder that cannot be made exits 2 and leaves no .partial', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), '');
    await expectUsageFailure(
      ['simulate', '--date', DAY, '--out', join(dir, 'file', 'day.ndjson'), '--requests', '10'],
      /cannot write --out/,
    );
    expect(readdirSync(dir)).toEqual(['file']);
  });
});

describe('sidecar on a busy port', () => {
  let busy: Server | undefined;
  afterEach(async () => {
    vi.unstubAllEnvs();
    const server = busy;
    busy = undefined;
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  });

  function stubPod(): void {
    vi.stubEnv('POD_NAME', 'vllm-busy-0');
    vi.stubEnv('GPU_SKU', SKU);
    vi.stubEnv('GPU_COUNT', '1');
    vi.stubEnv('MODEL_NAME', 'fake-model');
  }

  it('exits 2 with one line when the spool folder cannot be made', async () => {
    stubPod();
    const file = join(tempDir(), 'file');
    writeFileSync(file, '');
    await expectUsageFailure(
      [
        'sidecar',
        '--listen',
        '127.0.0.1:0',
        '--admin',
        '127.0.0.1:0',
        '--sink',
        `file:${tempDir()}`,
        '--spool',
        file,
      ],
      /cannot start the sidecar: ENOTDIR|cannot start the sidecar: EEXIST/,
    );
  });

  it('exits 2 with one line and releases the port it did open', async () => {
    const port = await freePort();
    busy = createServer();
    await new Promise<void>((resolve) => busy?.listen(port, '127.0.0.1', resolve));
    const admin = await freePort();
    stubPod();
    await expectUsageFailure(
      [
        'sidecar',
        '--listen',
        `127.0.0.1:${port}`,
        '--admin',
        `127.0.0.1:${admin}`,
        '--sink',
        `file:${tempDir()}`,
        '--spool',
        tempDir(),
      ],
      /cannot start the sidecar: listen EADDRINUSE/,
    );
    // The admin port is free again: nothing keeps the process alive after the failure.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(admin, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => probe.close(resolve));
  });
});
