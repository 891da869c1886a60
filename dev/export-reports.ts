/**
 * `npm start`'s reports, from the `reports` container into one local folder under the command
 * line's flat names (`chargeback-DATE.csv`, `metrics-DATE.json`, `requests-DATE.ndjson.gz`, ...,
 * as FolderReportStore reads them), so the day can be explored with `chargeback explain`, `drift`
 * and `monthly` on `out/reports/`. Every blob of a day's folder is copied, whatever the daily run
 * wrote there (CSV, summary, metrics, per-request file and index, page, alerts, and any file added
 * later), byte for byte; blob names are a day's or a month's, so their base names never collide.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';

/** `chargeback/YYYY/MM/DD/NAME` or `chargeback/YYYY/MM/NAME`: the day (or month) and the name. */
const REPORT_BLOB = /^chargeback\/(\d{4})\/(\d{2})(?:\/(\d{2}))?\/([A-Za-z0-9][A-Za-z0-9._-]*)$/;

export interface ExportOptions {
  /**
   * Days of which only `metrics-DATE.json` is copied: the drift history the local run writes is
   * metrics alone (its CSV is empty, its summary a note), which `drift` reads and nothing else should.
   */
  readonly metricsOnly?: ReadonlySet<string>;
}

/** Copies the container's report files into `dir`; the names written, sorted. */
export async function exportReports(
  container: ContainerClient,
  dir: string,
  options: ExportOptions = {},
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: 'chargeback/' })) {
    const match = REPORT_BLOB.exec(blob.name);
    if (match === null) continue;
    const [, year, month, day, name = ''] = match;
    if (day !== undefined && options.metricsOnly?.has(`${year}-${month}-${day}`) === true) {
      if (name !== `metrics-${year}-${month}-${day}.json`) continue;
    }
    const bytes = await container.getBlobClient(blob.name).downloadToBuffer();
    await writeFile(join(dir, name), bytes);
    written.push(name);
  }
  return written.sort();
}
