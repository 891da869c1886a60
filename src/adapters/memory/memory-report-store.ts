import {
  reportPaths,
  type ReportFiles,
  type ReportStore,
  type StoredReportInfo,
} from '../../ports/report-store.js';

/** The report store in memory, for tests and the handler tests. */
export class MemoryReportStore implements ReportStore {
  /** Contents by blob name, as the Blob store would name them. */
  readonly files = new Map<string, string>();
  private readonly infos = new Map<string, StoredReportInfo>();

  info(day: string): Promise<StoredReportInfo | undefined> {
    return settle(() => this.infos.get(reportPaths(day).summary));
  }

  write(day: string, files: ReportFiles, info: StoredReportInfo): Promise<void> {
    return settle(() => {
      const paths = reportPaths(day);
      this.files.set(paths.csv, files.csv);
      this.files.set(paths.metrics, files.metrics);
      this.files.set(paths.summary, files.summary);
      this.infos.set(paths.summary, info);
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

  writeAlerts(day: string, text: string): Promise<void> {
    return settle(() => {
      this.files.set(reportPaths(day).alerts, text);
    });
  }

  alerts(day: string): Promise<string | undefined> {
    return settle(() => this.files.get(reportPaths(day).alerts));
  }
}

/** `work` as a promise: a string that is not a day rejects, as it does in the Blob store, rather than throwing. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(work());
  });
}
