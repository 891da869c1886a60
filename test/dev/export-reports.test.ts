import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import Papa from 'papaparse';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { exportReports } from '../../dev/export-reports.js';
import { runMain } from '../helpers/cli.js';

/**
 * `npm start` leaves the day in out/reports/ as the daily run stored it, so the command line can
 * explore it: the reports container's day folders copied under the command line's flat names.
 * Here a day reported by `chargeback report` is put in a container as the daily run lays it out
 * (chargeback/YYYY/MM/DD/), exported, and read by `explain` and `drift`.
 */
const DAY = '2026-11-20';
const BEFORE = '2026-11-19';
let dir: string;
let container: ContainerClient;

async function reportDay(date: string, out: string): Promise<void> {
  const events = join(dir, `${date}.ndjson`);
  const simulate = ['simulate', '--date', date, '--out', events, '--pods', '2', '--requests', '400'];
  expect((await runMain(simulate)).code).toBe(0);
  const report = ['report', '--events', events, '--prices', 'prices/azure-a100.json', '--date', date];
  const result = await runMain([...report, '--out', out]);
  expect(result.code, result.stderr).toBe(0);
}

async function upload(date: string, name: string, body: Buffer | string): Promise<void> {
  const blob = container.getBlockBlobClient(`chargeback/${date.replace(/-/g, '/')}/${name}`);
  await blob.upload(body, Buffer.byteLength(body));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'export-reports-'));
  container = BlobServiceClient.fromConnectionString(inject('azurite')).getContainerClient(
    `export-${randomUUID().slice(0, 8)}`,
  );
  await container.create();
  await reportDay(DAY, join(dir, 'day'));
  for (const name of readdirSync(join(dir, 'day')))
    await upload(DAY, name, readFileSync(join(dir, 'day', name)));
  // A drift history day as the local run writes it: metrics, an empty CSV and a note for a summary.
  await reportDay(BEFORE, join(dir, 'before'));
  await upload(BEFORE, `metrics-${BEFORE}.json`, readFileSync(join(dir, 'before', `metrics-${BEFORE}.json`)));
  await upload(BEFORE, `chargeback-${BEFORE}.csv`, '');
  await upload(BEFORE, `summary-${BEFORE}.json`, '{"note":"local demo history: metrics only"}\n');
  // Not a report file: left where it is.
  await container.getBlockBlobClient('runs/some-run').upload('x', 1);
}, 120_000);

describe('exporting the stored reports to a folder', () => {
  it("copies every file of the day's folder byte for byte, and only the metrics of a history day", async () => {
    const out = join(dir, 'exported');
    const written = await exportReports(container, out, { metricsOnly: new Set([BEFORE]) });
    const dayFiles = readdirSync(join(dir, 'day')).sort();
    expect(dayFiles).toEqual(
      expect.arrayContaining([
        `chargeback-${DAY}.csv`,
        `summary-${DAY}.json`,
        `metrics-${DAY}.json`,
        `requests-${DAY}.ndjson.gz`,
        `requests-${DAY}.index.json`,
        `report-${DAY}.html`,
      ]),
    );
    expect(written).toEqual([...dayFiles, `metrics-${BEFORE}.json`].sort());
    expect(readdirSync(out).sort()).toEqual(written);
    for (const name of dayFiles)
      expect(readFileSync(join(out, name)).equals(readFileSync(join(dir, 'day', name))), name).toBe(true);
  });

  it('leaves a folder that `chargeback explain` and `chargeback drift` read', async () => {
    const out = join(dir, 'explored');
    await exportReports(container, out, { metricsOnly: new Set([BEFORE]) });
    const rows = Papa.parse<Record<string, string>>(
      readFileSync(join(out, `chargeback-${DAY}.csv`), 'utf8'),
      {
        header: true,
        skipEmptyLines: true,
      },
    ).data;
    const served = rows.find((r) => r.tenant !== '(idle)' && Number(r.requests) > 0);
    const explain = await runMain([
      'explain',
      '--reports',
      out,
      '--date',
      DAY,
      '--tenant',
      served?.tenant ?? '',
      '--top',
      '1',
      '--feature',
      served?.feature ?? '',
    ]);
    expect(explain.code, explain.stderr).toBe(0);
    const alerts = join(dir, 'alerts');
    const drift = await runMain(['drift', '--reports', out, '--date', DAY, '--out', alerts]);
    expect(drift.code, drift.stderr).toBe(0);
    const written = JSON.parse(readFileSync(join(alerts, `alerts-${DAY}.json`), 'utf8')) as {
      baselineDays: number;
    };
    expect(written.baselineDays).toBe(1);
  });
});
