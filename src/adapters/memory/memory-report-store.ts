import type { ByteSink } from '../../ports/byte-sink.js';
import {
  reportPaths,
  type ReportFiles,
  type ReportStore,
  type StoredReportInfo,
} from '../../ports/report-store.js';
import { parseRequestIndex, type RequestSource } from '../../ports/request-store.js';

/** The report store in memory, for tests and the handler tests. */
export class MemoryReportStore implements ReportStore {
  /** Contents by blob name, as the Blob store would name them. */
  readonly files = new Map<string, string>();
  readonly bytes = new Map<string, Uint8Array>();
  private readonly infos = new Map<string, StoredReportInfo>();
  /** The bytes of each day's last closed requestsSink, by data file name, until the day is written. */
  private readonly streamed = new Map<string, Uint8Array>();

  info(day: string): Promise<StoredReportInfo | undefined> {
    return settle(() => this.infos.get(reportPaths(day).summary));
  }

  write(day: string, files: ReportFiles, info: StoredReportInfo): Promise<void> {
    return settle(() => {
      const paths = reportPaths(day);
      const data = files.requests === undefined ? undefined : (files.requests.data ?? this.streamedData(day));
      this.files.set(paths.csv, files.csv);
      if (files.focus !== undefined) this.files.set(paths.focus, files.focus);
      this.files.set(paths.metrics, files.metrics);
      if (files.requests !== undefined && data !== undefined) {
        this.bytes.set(paths.requests, data);
        this.files.set(paths.requestsIndex, JSON.stringify(files.requests.index));
      }
      this.files.set(paths.summary, files.summary);
      this.infos.set(paths.summary, info);
    });
  }

  requestsSink(day: string): ByteSink {
    const name = reportPaths(day).requests;
    const chunks: Uint8Array[] = [];
    return {
      write: (chunk) =>
        settle(() => {
          chunks.push(chunk);
        }),
      close: () =>
        settle(() => {
          this.streamed.set(name, Buffer.concat(chunks));
        }),
      abort: () =>
        settle(() => {
          chunks.length = 0;
        }),
    };
  }

  /** The day's streamed data file, taken; throws when no sink of the day was closed. */
  private streamedData(day: string): Uint8Array {
    const name = reportPaths(day).requests;
    const data = this.streamed.get(name);
    if (data === undefined) throw new Error(`${name}: no data given and no requestsSink closed`);
    this.streamed.delete(name);
    return data;
  }

  keep(day: string, info: StoredReportInfo): Promise<void> {
    return settle(() => {
      const summary = reportPaths(day).summary;
      if (this.infos.has(summary)) this.infos.set(summary, info);
    });
  }

  csv(day: string): Promise<string | undefined> {
    return settle(() => this.files.get(reportPaths(day).csv));
  }

  summary(day: string): Promise<string | undefined> {
    return settle(() => this.files.get(reportPaths(day).summary));
  }

  metrics(day: string): Promise<string | undefined> {
    return settle(() => this.files.get(reportPaths(day).metrics));
  }

  focus(day: string): Promise<string | undefined> {
    return settle(() => this.files.get(reportPaths(day).focus));
  }

  writeAlerts(day: string, text: string): Promise<void> {
    return settle(() => {
      this.files.set(reportPaths(day).alerts, text);
    });
  }

  alerts(day: string): Promise<string | undefined> {
    return settle(() => this.files.get(reportPaths(day).alerts));
  }

  writeDocument(path: string, text: string): Promise<void> {
    return settle(() => {
      this.files.set(path, text);
    });
  }

  document(path: string): Promise<string | undefined> {
    return settle(() => this.files.get(path));
  }

  requests(day: string): Promise<RequestSource | undefined> {
    return settle(() => {
      const paths = reportPaths(day);
      const data = this.bytes.get(paths.requests);
      const index = this.files.get(paths.requestsIndex);
      if (data === undefined || index === undefined) return undefined;
      return {
        index: () => Promise.resolve(parseRequestIndex(index)),
        range: (offset: number, length: number) => Promise.resolve(data.subarray(offset, offset + length)),
      };
    });
  }
}

/** `work` as a promise: a string that is not a day rejects, as it does in the Blob store, rather than throwing. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(work());
  });
}
