import { mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isDay, isMonth } from '../../domain/days.js';
import type { ByteSink } from '../../ports/byte-sink.js';
import {
  dayPagePath,
  monthlyPaths,
  reportPaths,
  type ReportFiles,
  type ReportStore,
  type StoredReportInfo,
} from '../../ports/report-store.js';
import type { RequestSource } from '../../ports/request-store.js';
import { folderRequestSource } from './request-folder.js';

/**
 * Reports in one local folder under the command line's flat names (`chargeback-DATE.csv`,
 * `summary-DATE.json`, `focus-DATE.csv`, `requests-DATE.ndjson.gz`, ..., and documents by their base name:
 * `report-DATE.html`, `chargeback-YYYY-MM.csv`), so that `chargeback explain` and the monthly
 * report read what it writes. Every file is written as `NAME.partial` and renamed, and the summary
 * is renamed last: it is the commit. The revision is the summary's own (contracts.md §4.8); the rest of the
 * stored info is in `info-DATE.json`, written just before the summary and believed only when it
 * names the summary's revision (a run that died between the two leaves an older summary).
 */
export class FolderReportStore implements ReportStore {
  /** The data file of each day's last closed requestsSink, left as `.partial` until the day is written. */
  private readonly streamed = new Set<string>();

  constructor(private readonly dir: string) {}

  async info(day: string): Promise<StoredReportInfo | undefined> {
    const summary = await this.read(this.paths(day).summary);
    if (summary === undefined) return undefined;
    const revision = revisionOf(summary);
    const stored = parseInfo(await this.read(this.paths(day).info));
    return stored?.revision === revision ? stored : { revision, ledgerAsOf: '' };
  }

  async keep(day: string, info: StoredReportInfo): Promise<void> {
    const paths = this.paths(day);
    if ((await this.read(paths.summary)) !== undefined) await this.replace(paths.info, JSON.stringify(info));
  }

  async write(day: string, files: ReportFiles, info: StoredReportInfo): Promise<void> {
    const paths = this.paths(day);
    const data = files.requests?.data;
    if (files.requests !== undefined && data === undefined && !this.streamed.has(paths.requests))
      throw new Error(`${paths.requests}: no data given and no requestsSink closed`);
    // The order of `chargeback report`: the CSV, the requests' data then index, the metrics, the summary.
    await this.replace(paths.csv, files.csv);
    if (files.focus !== undefined) await this.replace(paths.focus, files.focus);
    if (files.requests !== undefined) {
      if (data !== undefined) await this.replace(paths.requests, data);
      else {
        await failing(paths.requests, rename(`${paths.requests}.partial`, paths.requests));
        this.streamed.delete(paths.requests);
      }
      await this.replace(paths.requestsIndex, JSON.stringify(files.requests.index));
    }
    await this.replace(paths.metrics, files.metrics);
    await this.replace(paths.info, JSON.stringify(info));
    await this.replace(paths.summary, files.summary);
  }

  requestsSink(day: string): ByteSink {
    const path = this.paths(day).requests;
    const partial = `${path}.partial`;
    let file: Promise<FileHandle> | undefined;
    const opened = (): Promise<FileHandle> =>
      (file ??= failing(
        partial,
        mkdir(this.dir, { recursive: true }).then(() => open(partial, 'w')),
      ));
    return {
      write: async (chunk) => {
        const handle = await opened();
        for (let at = 0; at < chunk.length;) {
          const { bytesWritten } = await failing(partial, handle.write(chunk, at, chunk.length - at));
          at += bytesWritten;
        }
      },
      close: async () => {
        await failing(partial, (await opened()).close());
        this.streamed.add(path);
      },
      abort: async () => {
        await (await file?.catch(() => undefined))?.close().catch(() => undefined);
        // Nothing to remove where the folder could not be made.
        await rm(partial, { force: true }).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
        });
      },
    };
  }

  async csv(day: string): Promise<string | undefined> {
    return await this.read(this.paths(day).csv);
  }

  async summary(day: string): Promise<string | undefined> {
    return await this.read(this.paths(day).summary);
  }

  async metrics(day: string): Promise<string | undefined> {
    return await this.read(this.paths(day).metrics);
  }

  async focus(day: string): Promise<string | undefined> {
    return await this.read(this.paths(day).focus);
  }

  async writeAlerts(day: string, text: string): Promise<void> {
    await this.replace(this.paths(day).alerts, text);
  }

  async alerts(day: string): Promise<string | undefined> {
    return await this.read(this.paths(day).alerts);
  }

  async requests(day: string): Promise<RequestSource | undefined> {
    const paths = this.paths(day);
    if ((await this.read(paths.requestsIndex)) === undefined) return undefined;
    return await folderRequestSource(this.dir, day);
  }

  /** `_contentType`: a file has none; its name's extension says what it is. */
  async writeDocument(path: string, text: string, _contentType?: string): Promise<void> {
    await this.replace(join(this.dir, documentName(path)), text);
  }

  async document(path: string): Promise<string | undefined> {
    return await this.read(join(this.dir, documentName(path)));
  }

  /** The day's files in the folder; throws RangeError for a string that is not a day. */
  private paths(day: string): Record<keyof ReturnType<typeof reportPaths> | 'info', string> {
    if (!isDay(day)) throw new RangeError(`not a day: ${day}`);
    const flat = (name: string): string => join(this.dir, name);
    return {
      csv: flat(`chargeback-${day}.csv`),
      summary: flat(`summary-${day}.json`),
      metrics: flat(`metrics-${day}.json`),
      alerts: flat(`alerts-${day}.json`),
      requests: flat(`requests-${day}.ndjson.gz`),
      requestsIndex: flat(`requests-${day}.index.json`),
      info: flat(`info-${day}.json`),
      focus: flat(`focus-${day}.csv`),
    };
  }

  /** Writes `path.partial` and renames it over `path`: a reader finds the old file or the new. */
  private async replace(path: string, content: string | Uint8Array): Promise<void> {
    await failing(path, mkdir(this.dir, { recursive: true }));
    await failing(path, writeFile(`${path}.partial`, content));
    await failing(path, rename(`${path}.partial`, path));
  }

  private async read(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/**
 * The flat name of a document path of `dayPagePath` or `monthlyPaths`; RangeError for any other
 * path, so no name can reach outside the folder or over a day's own files.
 */
function documentName(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const day = /^report-(\d{4}-\d{2}-\d{2})\.html$/.exec(name)?.[1];
  if (day !== undefined && dayPagePath(day) === path) return name;
  const month = /^(?:chargeback|report|summary|focus)-(\d{4}-\d{2})\.(?:csv|html|json)$/.exec(name)?.[1];
  if (month !== undefined && isMonth(month) && Object.values(monthlyPaths(month)).includes(path)) return name;
  throw new RangeError(`not a path of a report document: ${path}`);
}

/** The summary's revision, as `chargeback report` reads it: 0 when it has none. */
function revisionOf(summary: string): number {
  try {
    const revision = (JSON.parse(summary) as { revision?: unknown } | null)?.revision;
    return typeof revision === 'number' && Number.isInteger(revision) ? revision : 0;
  } catch {
    return 0;
  }
}

function parseInfo(text: string | undefined): StoredReportInfo | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<StoredReportInfo> | null;
    if (typeof value?.revision !== 'number' || typeof value.ledgerAsOf !== 'string') return undefined;
    return {
      revision: value.revision,
      ledgerAsOf: value.ledgerAsOf,
      ...(typeof value.inputs === 'string' ? { inputs: value.inputs } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The operation's error, naming the file it was about. */
async function failing<T>(path: string, operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw new Error(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}
