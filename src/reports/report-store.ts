import { RestError } from '@azure/storage-blob';
import type { ContainerClient } from '@azure/storage-blob';

/** What a stored report says about itself, beyond its content. */
export interface StoredReportInfo {
  readonly revision: number;
  /** Segments committed after this instant (less a margin) may be missing from the report. */
  readonly ledgerAsOf: string;
}

export interface ReportStore {
  info(day: string): Promise<StoredReportInfo | undefined>;
  /** Writes the CSV, then the summary (the summary is the commit: a report exists when it does). */
  write(day: string, csv: string, summary: string, info: StoredReportInfo): Promise<void>;
  csv(day: string): Promise<string | undefined>;
  summary(day: string): Promise<string | undefined>;
}

/** `chargeback/YYYY/MM/DD/` in the `reports` container (SPEC 5). */
export function reportPaths(day: string): { csv: string; summary: string } {
  const folder = `chargeback/${day.slice(0, 4)}/${day.slice(5, 7)}/${day.slice(8, 10)}`;
  return { csv: `${folder}/chargeback-${day}.csv`, summary: `${folder}/summary-${day}.json` };
}

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

export class BlobReportStore implements ReportStore {
  constructor(private readonly container: ContainerClient) {}

  async ensure(): Promise<void> {
    await this.container.createIfNotExists();
  }

  async info(day: string): Promise<StoredReportInfo | undefined> {
    try {
      const properties = await this.container.getBlobClient(reportPaths(day).summary).getProperties();
      const metadata = properties.metadata ?? {};
      return { revision: Number(metadata.revision ?? 0), ledgerAsOf: metadata.ledgerasof ?? '' };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async write(day: string, csv: string, summary: string, info: StoredReportInfo): Promise<void> {
    const paths = reportPaths(day);
    await this.container.getBlockBlobClient(paths.csv).upload(csv, Buffer.byteLength(csv), {
      blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
    });
    // Blob metadata names must be C# identifiers: lower case, no dashes.
    await this.container.getBlockBlobClient(paths.summary).upload(summary, Buffer.byteLength(summary), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
      metadata: { revision: String(info.revision), ledgerasof: info.ledgerAsOf },
    });
  }

  csv(day: string): Promise<string | undefined> {
    return this.text(reportPaths(day).csv);
  }

  summary(day: string): Promise<string | undefined> {
    return this.text(reportPaths(day).summary);
  }

  private async text(name: string): Promise<string | undefined> {
    try {
      return (await this.container.getBlobClient(name).downloadToBuffer()).toString('utf8');
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }
}
