import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { progressOn } from '../../src/cli/progress.js';
import { REPORT_HELP } from '../../src/cli/report-command.js';
import { runMain } from '../helpers/cli.js';
import { at, capacity, DAY, usage } from '../helpers/events.js';

const SKU = 'Standard_NC24ads_A100_v4';

function eventsFile(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'report-files-'));
  const file = join(dir, 'events.ndjson');
  const events = [
    capacity({ gpuSku: SKU, windowStart: at(0), windowEnd: at(3600) }),
    usage({ gpuSku: SKU, tenant: 'contoso', startedAt: at(10), finishedAt: at(70) }),
    usage({ gpuSku: SKU, tenant: 'fabrikam', startedAt: at(40), finishedAt: at(100) }),
  ];
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return { dir, file };
}

const report = (file: string, out: string, extra: string[] = []) =>
  runMain([
    'report',
    '--events',
    file,
    '--prices',
    'prices/azure-a100.json',
    '--date',
    DAY,
    '--out',
    out,
    ...extra,
  ]);

describe('chargeback report names what it wrote', () => {
  it('prints every file it wrote, one a line, and each is there', async () => {
    const { dir, file } = eventsFile();
    const out = join(dir, 'out');
    const result = await report(file, out);
    expect(result.code, result.stderr).toBe(0);
    const wrote = result.stdout
      .split('\n')
      .filter((line) => line.startsWith('wrote '))
      .map((line) => line.slice('wrote '.length));
    expect(wrote.map((path) => basename(path))).toEqual([
      `chargeback-${DAY}.csv`,
      `focus-${DAY}.csv`,
      `summary-${DAY}.json`,
      `metrics-${DAY}.json`,
      `report-${DAY}.html`,
      `requests-${DAY}.ndjson.gz`,
      `requests-${DAY}.index.json`,
      `rejected-${DAY}.ndjson`,
    ]);
    expect(wrote.every((path) => path.startsWith(out))).toBe(true);
    // Nothing in the folder goes unnamed but the store's own revision bookkeeping.
    const files = readdirSync(out).filter((name) => name !== `info-${DAY}.json`);
    expect(files.sort()).toEqual(wrote.map((path) => basename(path)).sort());
    expect(result.stdout).toMatch(
      /\nfleet \d+\.\d{6} = allocated \d+\.\d{6} \+ idle \d+\.\d{6}; 0 rejected line\(s\)\n$/,
    );
  });

  it('shows no progress when stderr is not a terminal', async () => {
    const { dir, file } = eventsFile();
    expect((await report(file, join(dir, 'out'))).stderr).toBe('');
  });

  it('lists every file and every exit status in its help', () => {
    for (const name of ['chargeback', 'focus', 'summary', 'metrics', 'report'])
      expect(REPORT_HELP).toContain(`DIR/${name}-DATE.`);
    for (const name of ['requests-DATE.ndjson.gz', 'requests-DATE.index.json', 'rejected-DATE.ndjson'])
      expect(REPORT_HELP).toContain(`DIR/${name}`);
    expect(REPORT_HELP).toMatch(/\n {2}0 {2}the report is written/);
    expect(REPORT_HELP).toMatch(/\n {2}1 {2}the input holds events but nothing billable/);
    expect(REPORT_HELP).toMatch(/\n {2}2 {2}bad arguments/);
  });

  it('says calibrated in the summary’s weighting with --weighting calibrated', async () => {
    const { dir, file } = eventsFile();
    const out = join(dir, 'out');
    expect((await report(file, out, ['--weighting', 'calibrated'])).code).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, `summary-${DAY}.json`), 'utf8')) as {
      weighting: { kind: string; configured?: { kind: string } };
      calibration?: unknown[];
    };
    expect(summary.weighting.kind).toBe('calibrated');
    expect(summary.weighting.configured?.kind).toBe('step-cost');
    expect(Array.isArray(summary.calibration)).toBe(true);
    const plain = join(dir, 'plain');
    expect((await report(file, plain)).code).toBe(0);
    const step = JSON.parse(readFileSync(join(plain, `summary-${DAY}.json`), 'utf8')) as {
      weighting: { kind: string };
    };
    expect(step.weighting.kind).toBe('step-cost');
  });
});

describe('progress on stderr', () => {
  function stream(isTTY: boolean) {
    let text = '';
    const s = { isTTY, write: (t: string) => ((text += t), true) } as unknown as NodeJS.WritableStream & {
      isTTY?: boolean;
    };
    return { s, text: () => text };
  }

  it('rewrites one line on a terminal, at most every interval, and clears it at the end', () => {
    const tty = stream(true);
    let now = 0;
    const progress = progressOn(tty.s, 250, () => now);
    progress.step('reading events: 1 line(s)');
    now = 100;
    progress.step('too soon');
    now = 300;
    progress.step('computing 4 unit(s): 1 s');
    progress.done();
    expect(tty.text()).toBe('\r\x1b[2Kreading events: 1 line(s)\r\x1b[2Kcomputing 4 unit(s): 1 s\r\x1b[2K');
  });

  it('writes nothing where stderr is a pipe or a file', () => {
    const pipe = stream(false);
    const progress = progressOn(pipe.s);
    progress.step('reading events');
    progress.done();
    expect(pipe.text()).toBe('');
  });
});
