import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import { REJECTED_FILE, spoolBytes } from '../../src/sidecar/spool.js';

describe('the spool size gauge (alerted on by the managed Prometheus rule in bicep/)', () => {
  it('sums the spool files only, not the rejected file or anything else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-bytes-'));
    writeFileSync(join(dir, 'spool-0001.ndjson'), 'x'.repeat(1000));
    writeFileSync(join(dir, 'spool-0002.ndjson'), 'y'.repeat(234));
    writeFileSync(join(dir, REJECTED_FILE), 'z'.repeat(5000));
    writeFileSync(join(dir, 'notes.txt'), 'w'.repeat(77));
    expect(await spoolBytes(dir)).toBe(1234);
  });

  it('is 0 for a folder that does not exist yet', async () => {
    expect(await spoolBytes(join(tmpdir(), 'no-such-spool-folder-xyz'))).toBe(0);
  });

  it('is read at each scrape, so a spool left by a previous process shows at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-gauge-'));
    const metrics = new SidecarMetrics(dir);
    expect(await metrics.registry.metrics()).toMatch(/^chargeback_sidecar_spool_bytes 0$/m);
    writeFileSync(join(dir, 'spool-0009.ndjson'), 'e'.repeat(4096));
    expect(await metrics.registry.metrics()).toMatch(/^chargeback_sidecar_spool_bytes 4096$/m);
  });
});
