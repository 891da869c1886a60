import { reportPaths, type ReportStore, type StoredReportInfo } from '../../ports/report-store.js';

/** The report store in memory, for tests and the handler tests. */
export class MemoryReportStore implements ReportStore {
  readonly files = new Map<string, string>();
  private readonly infos = new Map<string, StoredReportInfo>();

  info(day: string): Promise<StoredReportInfo | undefined> {
    return Promise.resolve(this.infos.get(day));
  }

  write(day: string, csv: string, summary: string, info: StoredReportInfo): Promise<void> {
    const paths = reportPaths(day);
    this.files.set(paths.csv, csv);
    this.files.set(paths.summary, summary);
    this.infos.set(day, info);
    return Promise.resolve();
  }

  csv(day: string): Promise<string | undefined> {
    return Promise.resolve(this.files.get(reportPaths(day).csv));
  }

  summary(day: string): Promise<string | undefined> {
    return Promise.resolve(this.files.get(reportPaths(day).summary));
  }
}
