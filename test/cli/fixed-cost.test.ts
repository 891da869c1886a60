import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatCents } from '../../src/cli/fixed-cost-command.js';
import { runMain } from '../helpers/cli.js';

describe('chargeback fixed-cost', () => {
  it('prints the prod pools at min and max and the training cluster per hour, from the committed snapshot', async () => {
    const { code, stdout } = await runMain([
      'fixed-cost',
      '--snapshot',
      'bicep/prod.snapshot.json',
      '--at',
      '2026-12-01',
    ]);
    expect(code).toBe(0);
    // prod.bicepparam: interactive 2-8 x NC24ads ($3.673), batch 1-4 x NC48ads ($7.346); ND96asr x 2 ($27.197).
    expect(stdout).toMatch(/a100int\s+Standard_NC24ads_A100_v4\s+1\s+2-8\s+3\.673\s+5,362\.58\s+21,450\.32/);
    expect(stdout).toMatch(
      /a100batch\s+Standard_NC48ads_A100_v4\s+2\s+1-4\s+7\.346\s+5,362\.58\s+21,450\.32/,
    );
    expect(stdout).toContain(
      'training cluster a100-train: Standard_ND96asr_v4 (8 GPUs), 0-2 nodes: 54.39 per hour',
    );
    expect(stdout).toContain("total: 10,725.16 a month at the pools' minimum, 42,900.64 at their maximum");
    expect(stdout).toContain('not in the totals: aks-');
  });

  it('prints JSON for machines (the release cost gate reads it)', async () => {
    const { code, stdout } = await runMain([
      'fixed-cost',
      '--snapshot',
      'bicep/dev.snapshot.json',
      '--at',
      '2026-12-01',
      '--json',
    ]);
    expect(code).toBe(0);
    const json = JSON.parse(stdout) as {
      monthlyAtMin: number;
      monthlyAtMax: number;
      training: { perHourAtMax: number }[];
    };
    // dev scales the GPU pools to zero: nothing is committed; at most 2 x NC24ads + 1 x NC48ads.
    expect(json.monthlyAtMin).toBe(0);
    expect(json.monthlyAtMax).toBe(10_725.16);
    expect(json.training[0]?.perHourAtMax).toBe(54.394);
  });

  it('exits 2 naming the file when the snapshot is not one, or the arguments are wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fixed-cost-'));
    writeFileSync(join(dir, 'bad.json'), '{"resources": []}');
    const bad = await runMain(['fixed-cost', '--snapshot', join(dir, 'bad.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad.json: not a Bicep snapshot');
    expect((await runMain(['fixed-cost'])).code).toBe(2);
    expect((await runMain(['fixed-cost', '--snapshot', 'x', '--at', 'yesterday'])).stderr).toContain(
      '--at must be a day',
    );
    const missing = await runMain(['fixed-cost', '--snapshot', join(dir, 'nope.json')]);
    expect([missing.code, missing.stderr.includes('nope.json')]).toEqual([2, true]);
  });

  it('rounds to whole cents half up, with thousands separators', () => {
    expect(formatCents(21_450_316_000_000)).toBe('21,450.32');
    expect(formatCents(5_000_000)).toBe('0.01');
    expect(formatCents(4_999_999)).toBe('0.00');
    expect(formatCents(1_234_567_890_000_000)).toBe('1,234,567.89');
  });
});
