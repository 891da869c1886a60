/**
 * `npm run bench`: times `chargeback report` (every output: CSV, summary, metrics, day page,
 * per-request file and index) on simulated days of 1M, 5M and 10M events on 40 pods against a bare
 * pass that only reads and JSON.parses the same file on one core, with the peak memory (max RSS)
 * of each, and the report's stages (`--timings`). Goals: at 1M, at most 2.5 x the bare pass and
 * 700 MB; at 5M and 10M the same ratio or better and under 1 GB. Sizes: BENCH_SIZES=1000000,5000000.
 * It also times `--weighting calibrated` at every size (BENCH_CALIBRATED=0 leaves it out): its
 * memory must not grow with the day either.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dayOfMs } from '../src/domain/days.js';

const DATE = '2026-11-22';
const sizes = (process.env.BENCH_SIZES ?? '1000000,5000000,10000000').split(',').map(Number);
const root = new URL('..', new URL('..', import.meta.url)).pathname;
const cli = join(root, 'bin', 'chargeback.js');
const cache = join(root, '.bench');
mkdirSync(cache, { recursive: true });

interface Timed {
  seconds: number;
  maxRssMb: number;
  stages?: string[];
}

function timed(args: string[]): Timed {
  // GNU time prints elapsed seconds and peak resident set size (KiB) of the child on stderr; without
  // it, wall time is measured here and memory is not reported.
  if (!existsSync('/usr/bin/time')) {
    const started = performance.now();
    run(process.execPath, args);
    return { seconds: (performance.now() - started) / 1000, maxRssMb: Number.NaN };
  }
  const stderr = run('/usr/bin/time', ['-f', 'BENCH %e %M', process.execPath, ...args]);
  const line = stderr.split('\n').find((l) => l.startsWith('BENCH ')) ?? '';
  const [, seconds = 'NaN', kib = 'NaN'] = line.split(' ');
  const stages = stderr
    .split('\n')
    .filter((l) => l.startsWith('stage: '))
    .map((l) => l.slice('stage: '.length));
  return { seconds: Number(seconds), maxRssMb: Number(kib) / 1024, stages };
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stderr;
}

function eventsFile(events: number): string {
  const file = join(cache, `events-${events}.ndjson`);
  if (!existsSync(file)) {
    const pods = events >= 1_000_000 ? 40 : Math.max(8, Math.round(events / 25_000));
    const capacityEvents = pods * 1441;
    process.stderr.write(`simulating ${events} events on ${pods} pods into ${file} ...\n`);
    execFileSync(process.execPath, [
      cli,
      'simulate',
      '--date',
      DATE,
      '--out',
      file,
      '--pods',
      String(pods),
      '--seed',
      '7',
      '--requests',
      String(events - capacityEvents),
    ]);
  }
  return file;
}

const rows: string[] = [];
for (const events of sizes) {
  const file = eventsFile(events);
  const megabytes = statSync(file).size / 1e6;
  const bare = timed([join(root, 'dist', 'bench', 'bare-pass.js'), file]);
  const out = mkdtempSync(join(tmpdir(), 'bench-report-'));
  const reportArgs = (dir: string, ...more: string[]): string[] => [
    cli,
    'report',
    '--events',
    file,
    '--prices',
    join(root, 'prices', 'azure-a100.json'),
    '--date',
    DATE,
    '--out',
    dir,
    ...more,
  ];
  const report = timed(reportArgs(out, '--timings'));
  process.stderr.write(`${events} events, report stages: ${(report.stages ?? []).join('; ')}\n`);
  const ratio = report.seconds / bare.seconds;
  rmSync(out, { recursive: true, force: true });
  const calibratedOut = mkdtempSync(join(tmpdir(), 'bench-report-'));
  const calibrated =
    process.env.BENCH_CALIBRATED !== '0'
      ? timed(reportArgs(calibratedOut, '--weighting', 'calibrated', '--timings'))
      : undefined;
  rmSync(calibratedOut, { recursive: true, force: true });
  if (calibrated !== undefined)
    process.stderr.write(`${events} events, calibrated stages: ${(calibrated.stages ?? []).join('; ')}\n`);
  const calibratedCell =
    calibrated === undefined
      ? '-'
      : `${calibrated.seconds.toFixed(2)} s (+${((calibrated.seconds / report.seconds - 1) * 100).toFixed(0)}%), ${calibrated.maxRssMb.toFixed(0)} MB`;
  rows.push(
    `| ${events.toLocaleString('en-US')} | ${megabytes.toFixed(0)} MB | ${bare.seconds.toFixed(2)} s | ${report.seconds.toFixed(2)} s | ${ratio.toFixed(2)}x | ${report.maxRssMb.toFixed(0)} MB | ${bare.maxRssMb.toFixed(0)} MB | ${calibratedCell} |`,
  );
  process.stderr.write(`${rows[rows.length - 1] ?? ''}\n`);
}
process.stdout.write(
  `\nchargeback report benchmark, ${dayOfMs(Date.now())}, node ${process.version}\n\n` +
    '| events | file | bare read+parse | report | ratio | report peak RSS | bare peak RSS | report --weighting calibrated |\n|---|---|---|---|---|---|---|---|\n' +
    `${rows.join('\n')}\n`,
);
