import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { at, capacity, DAY, usage } from '../helpers/events.js';

const SKU = 'Standard_NC24ads_A100_v4';

/**
 * A unit over a worker thread's heap: the thread dies of it, the unit is handed back to be computed
 * on the main thread, and the pool goes on with a new thread. Worker threads run built code, so
 * this test loads dist/ (which `npm test` builds before the tests).
 */
describe('the worker threads of chargeback report, a unit over their heap', () => {
  it('hand the unit back, say so, and compute the next unit on a new thread', async () => {
    const built = (path: string): Promise<unknown> => import(`../../dist/src/${path}`);
    const { workerExecutor } = (await built(
      'cli/report-units.js',
    )) as typeof import('../../src/cli/report-units.js');
    const { LineSpill } = (await built(
      'adapters/files/line-spill.js',
    )) as typeof import('../../src/adapters/files/line-spill.js');
    const dir = mkdtempSync(join(tmpdir(), 'worker-heap-'));
    const spill = new LineSpill(join(dir, 'spill'), 2);
    const line = (n: number, fields: Record<string, unknown>) => ({
      text: JSON.stringify(fields),
      where: { file: 0, line: n },
    });
    let n = 0;
    // Bucket 0: one large pod (its events take far more than the 16 MB heap below); bucket 1: a small one.
    spill.add(line(++n, capacity({ gpuSku: SKU, pod: 'big', windowStart: at(0), windowEnd: at(86_000) })));
    spill.add(line(++n, capacity({ gpuSku: SKU, pod: 'small', windowStart: at(0), windowEnd: at(600) })));
    for (let r = 0; r < 60_000; r++) {
      spill.add(line(++n, usage({ gpuSku: SKU, pod: 'big', startedAt: at(r), finishedAt: at(r + 2) })));
      if (r % 5_000 === 0) await spill.flush();
    }
    for (let r = 0; r < 20; r++)
      spill.add(line(++n, usage({ gpuSku: SKU, pod: 'small', startedAt: at(r), finishedAt: at(r + 1) })));
    const [big, small] = await spill.finish();
    if (big === undefined || small === undefined) throw new Error('two buckets expected');
    const logged: string[] = [];
    const pool = workerExecutor(
      1,
      {
        kind: 'init',
        pricesPath: 'prices/azure-a100.json',
        settings: {
          date: DAY,
          dayStart: Date.parse(`${DAY}T00:00:00Z`) * 1000,
          dayEnd: Date.parse(`${DAY}T00:00:00Z`) * 1000 + 86_400_000_000,
          weighting: { kind: 'time-share' },
          idle: 'separate',
        },
        files: ['day.ndjson'],
        runsDir: join(dir, 'runs'),
      },
      (unit) => `rejected-${unit}`,
      16,
      (m) => logged.push(m),
    );
    try {
      const lost = await pool.executor.run(
        { id: '0000', lines: big.read, spills: [big.path] },
        'requests-0000',
      );
      expect(lost).toBeUndefined();
      expect(logged).toEqual([expect.stringMatching(/unit 0000 is over a worker thread's 16 MB heap/)]);
      const done = await pool.executor.run(
        { id: '0001', lines: small.read, spills: [small.path] },
        'requests-0001',
      );
      expect(done?.allocated?.requests.requests).toBe(20);
      expect(done?.read.intake.counts.usageEvents).toBe(20);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
