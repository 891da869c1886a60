import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { at, capacity, DAY, usage } from '../helpers/events.js';

const run = promisify(execFile);
const SKU = 'Standard_NC24ads_A100_v4';

/**
 * The worker threads run built code (dist/src/cli/report-worker.js): this test runs the built
 * command line, as `npm test` builds before the tests.
 */
describe('chargeback report on worker threads', () => {
  it('writes the bytes the main thread alone writes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cli-workers-'));
    const events = join(root, 'events');
    mkdirSync(events);
    const lines: string[] = [];
    for (let p = 0; p < 10; p++) {
      const pod = `pod-${p}`;
      lines.push(JSON.stringify(capacity({ gpuSku: SKU, pod, windowStart: at(0), windowEnd: at(7200) })));
      for (let r = 0; r < 40; r++)
        lines.push(
          JSON.stringify(
            usage({
              gpuSku: SKU,
              pod,
              tenant: `t${r % 3}`,
              startedAt: at(r * 60 + p),
              finishedAt: at(r * 60 + 30),
            }),
          ),
        );
    }
    lines.push('{"broken', JSON.stringify({ ...usage({ gpuSku: 'NOPE', pod: 'pod-3' }) }));
    writeFileSync(join(events, 'day.ndjson'), `${lines.join('\n')}\n`);
    const report = async (out: string, workers: string): Promise<void> => {
      await run(process.execPath, [
        'bin/chargeback.js',
        'report',
        '--events',
        events,
        '--prices',
        'prices/azure-a100.json',
        '--date',
        DAY,
        '--out',
        out,
        '--unit-mb',
        '0.01',
        '--workers',
        workers,
      ]);
    };
    await report(join(root, 'threads'), '2');
    await report(join(root, 'main'), '0');
    const read = (dir: string): Record<string, string> =>
      Object.fromEntries(
        readdirSync(dir)
          .filter((name) => /^(chargeback|requests|rejected)-/.test(name))
          .map((name) => [name, readFileSync(join(dir, name)).toString('base64')]),
      );
    const threads = read(join(root, 'threads'));
    expect(Object.keys(threads)).toContain(`requests-${DAY}.ndjson.gz`);
    expect(threads).toEqual(read(join(root, 'main')));
    const rejected = readFileSync(join(root, 'threads', `rejected-${DAY}.ndjson`), 'utf8')
      .trim()
      .split('\n');
    expect(rejected).toHaveLength(2);
  }, 60_000);

  it('fits a calibrated day on the threads as the main thread alone does, and reuses the fit on the threads', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cli-workers-calibrated-'));
    const events = join(root, 'day.ndjson');
    await run(process.execPath, [
      'bin/chargeback.js',
      'simulate',
      '--date',
      DAY,
      '--out',
      events,
      '--pods',
      '6',
      '--requests',
      '12000',
    ]);
    const report = async (out: string, workers: string): Promise<void> => {
      await run(process.execPath, [
        'bin/chargeback.js',
        'report',
        '--events',
        events,
        '--prices',
        'prices/azure-a100.json',
        '--date',
        DAY,
        '--out',
        out,
        '--weighting',
        'calibrated',
        '--unit-mb',
        '1',
        '--workers',
        workers,
      ]);
    };
    const read = (dir: string): Record<string, string> =>
      Object.fromEntries(
        readdirSync(dir)
          .filter((name) => /^(chargeback|requests|rejected)-/.test(name))
          .map((name) => [name, readFileSync(join(dir, name)).toString('base64')]),
      );
    const calibration = (dir: string): unknown =>
      (JSON.parse(readFileSync(join(dir, `summary-${DAY}.json`), 'utf8')) as { calibration: unknown })
        .calibration;
    await report(join(root, 'threads'), '2');
    await report(join(root, 'main'), '0');
    const summary = JSON.parse(readFileSync(join(root, 'threads', `summary-${DAY}.json`), 'utf8')) as {
      calibration: { source: string }[];
    };
    expect(summary.calibration.some((c) => c.source === 'fitted')).toBe(true);
    expect(read(join(root, 'threads'))).toEqual(read(join(root, 'main')));
    expect(calibration(join(root, 'threads'))).toEqual(calibration(join(root, 'main')));
    // The next revision of the day reuses the stored fit: every unit allocated on its first pass.
    await report(join(root, 'threads'), '2');
    await report(join(root, 'main'), '0');
    expect(read(join(root, 'threads'))).toEqual(read(join(root, 'main')));
  }, 120_000);
});
