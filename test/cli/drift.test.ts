import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/cli.js';
import { renderMetrics } from '../../src/domain/metrics/build.js';
import { generateHistory } from '../../dev/drift-history/generate.js';
import { FolderReportStore } from '../../src/adapters/files/folder-report-store.js';
import { MemoryAlertStore } from '../../src/adapters/memory/memory-alert-store.js';
import { MemoryOutbox } from '../../src/adapters/memory/memory-outbox.js';
import { DEFAULT_LIFECYCLE_POLICY } from '../../src/domain/drift/lifecycle.js';
import { DEFAULT_DRIFT_RULES } from '../../src/domain/drift/rules.js';
import { runDrift } from '../../src/usecases/drift/run-drift.js';
import { MODEL_SPECS } from '../../dev/drift-history/fleet.js';

const START = '2026-06-01';
const MODEL = MODEL_SPECS[1]?.name ?? '';
// 35 days; the model's idle share doubles from day 30 for three days, then is back to normal.
const history = generateHistory({
  seed: 3,
  days: 35,
  start: START,
  incidents: [{ kind: 'idle', day: 30, duration: 3, size: 2, scope: { model: MODEL } }],
});
const dayOf = (i: number): string => history.days[i]?.date ?? '';

function reportsFolder(days: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'drift-reports-'));
  for (const m of history.days.slice(0, days))
    writeFileSync(join(dir, `metrics-${m.date}.json`), renderMetrics(m));
  return dir;
}

const drift = (args: string[]): ReturnType<typeof runMain> => runMain(['drift', ...args]);

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A Teams stand-in on loopback answering `status`, keeping what it received. */
async function receiver(status: number): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(text));
      res.writeHead(status).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/workflows/hook`, bodies };
}

describe('chargeback drift', () => {
  it('writes alerts and the Teams body, and posts exactly that body', async () => {
    const reports = reportsFolder(35);
    const out = mkdtempSync(join(tmpdir(), 'drift-out-'));
    const teams = await receiver(202);
    const result = await drift([
      '--reports',
      reports,
      '--date',
      dayOf(30),
      '--out',
      out,
      '--teams-url',
      teams.url,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const alerts = JSON.parse(readFileSync(join(out, `alerts-${dayOf(30)}.json`), 'utf8')) as {
      baselineDays: number;
      alerts: { rule: string; scope: { model?: string } }[];
    };
    expect(alerts.baselineDays).toBe(28);
    expect(alerts.alerts.some((a) => a.rule === 'idleShare' && a.scope.model === MODEL)).toBe(true);
    const written = JSON.parse(readFileSync(join(out, `teams-${dayOf(30)}.json`), 'utf8')) as unknown[];
    expect(written.length).toBeGreaterThan(0);
    expect(teams.bodies).toEqual(written);
  });

  it('resolves an alert of the latest earlier alerts file once it no longer holds', async () => {
    const reports = reportsFolder(35);
    const out = mkdtempSync(join(tmpdir(), 'drift-out-'));
    expect((await drift(['--reports', reports, '--date', dayOf(30), '--out', out])).code).toBe(0);
    expect((await drift(['--reports', reports, '--date', dayOf(34), '--out', out])).code).toBe(0);
    const raised = JSON.parse(readFileSync(join(out, `alerts-${dayOf(30)}.json`), 'utf8')) as {
      alerts: { id: string; rule: string }[];
    };
    const later = JSON.parse(readFileSync(join(out, `alerts-${dayOf(34)}.json`), 'utf8')) as {
      resolved: string[];
    };
    const idle = raised.alerts.find((a) => a.rule === 'idleShare');
    expect(later.resolved).toContain(idle?.id);
  });

  it('runs on no history at all, counting the days it found', async () => {
    const reports = reportsFolder(1);
    const out = mkdtempSync(join(tmpdir(), 'drift-out-'));
    expect((await drift(['--reports', reports, '--date', dayOf(0), '--out', out])).code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, `alerts-${dayOf(0)}.json`), 'utf8')) as {
      baselineDays: number;
    };
    expect(report.baselineDays).toBe(0);
  });

  it('exits 1 when the post fails after its retries, with the files written', async () => {
    const reports = reportsFolder(35);
    const out = mkdtempSync(join(tmpdir(), 'drift-out-'));
    const teams = await receiver(400);
    const result = await drift([
      '--reports',
      reports,
      '--date',
      dayOf(30),
      '--out',
      out,
      '--teams-url',
      teams.url,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/posting to Teams failed/);
    expect(result.stderr).not.toContain('/workflows/hook');
    expect(readFileSync(join(out, `teams-${dayOf(30)}.json`), 'utf8')).not.toBe('');
  });

  it('refuses an Office 365 connector URL before writing anything', async () => {
    const reports = reportsFolder(35);
    const out = mkdtempSync(join(tmpdir(), 'drift-out-'));
    const result = await drift([
      '--reports',
      reports,
      '--date',
      dayOf(30),
      '--out',
      out,
      '--teams-url',
      'https://contoso.webhook.office.com/webhookb2/abc',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Office 365 connector/);
  });

  it('exits 2 naming a metrics file that is not one, and a day without metrics', async () => {
    const reports = reportsFolder(35);
    writeFileSync(join(reports, `metrics-${dayOf(29)}.json`), '{"schemaVersion": 1, "date": "x"');
    const out = mkdtempSync(join(tmpdir(), 'drift-out-'));
    const bad = await drift(['--reports', reports, '--date', dayOf(30), '--out', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`metrics-${dayOf(29)}.json`);
    const missing = await drift(['--reports', reports, '--date', '2027-01-01', '--out', out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no metrics-2027-01-01.json/);
    expect((await drift(['--reports', reports, '--date', '2026-02-30', '--out', out])).code).toBe(2);
  });

  it('writes the alerts file the daily Function writes for the same reports, and fails where it skips', async () => {
    const reports = reportsFolder(35);
    const out = mkdtempSync(join(tmpdir(), 'drift-out-'));
    expect((await drift(['--reports', reports, '--date', dayOf(30), '--out', out])).code).toBe(0);
    const functionDay = async (): Promise<ReturnType<typeof runDrift>> =>
      runDrift(dayOf(30), {
        reports: new FolderReportStore(reports),
        alerts: new MemoryAlertStore(),
        outbox: new MemoryOutbox(),
        notifier: undefined,
        rules: DEFAULT_DRIFT_RULES,
        policy: DEFAULT_LIFECYCLE_POLICY,
        now: () => new Date(`${dayOf(30)}T23:59:00Z`),
        runId: 'test',
      });
    await functionDay();
    const cli = readFileSync(join(out, `alerts-${dayOf(30)}.json`), 'utf8');
    expect((JSON.parse(cli) as { alerts: unknown[] }).alerts.length).toBeGreaterThan(0);
    expect(readFileSync(join(reports, `alerts-${dayOf(30)}.json`), 'utf8')).toBe(cli);
    // A history day copied under another day's name: the Function leaves it out, the command fails.
    writeFileSync(
      join(reports, `metrics-${dayOf(10)}.json`),
      readFileSync(join(reports, `metrics-${dayOf(9)}.json`)),
    );
    expect((await functionDay())?.unreadableDays).toEqual([dayOf(10)]);
    const refused = await drift(['--reports', reports, '--date', dayOf(30), '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`it is the metrics of ${dayOf(9)}`);
  });
});
