import { RestError, type ContainerClient } from '@azure/storage-blob';
import {
  reportPaths,
  type ReportFiles,
  type ReportStore,
  type StoredReportInfo,
} from '../../ports/report-store.js';
import { parseRequestIndex, type RequestSource } from '../../ports/request-store.js';
import type { ByteSink } from '../../ports/byte-sink.js';
import { StagedBlocks } from './staged-blocks.js';

/** Reports in the `reports` Blob container (contracts.md §5), revision and ledger time in the summary's metadata. */
export class BlobReportStore implements ReportStore {
  /** The block ids of each day's last closed requestsSink, by data blob name, until the day is written. */
  private readonly staged = new Map<string, string[]>();

  constructor(private readonly container: ContainerClient) {}

  async ensure(): Promise<void> {
    await this.container.createIfNotExists();
  }

  async info(day: string): Promise<StoredReportInfo | undefined> {
    try {
      const properties = await this.container.getBlobClient(reportPaths(day).summary).getProperties();
      const metadata = properties.metadata ?? {};
      return {
        revision: Number(metadata.revision ?? 0),
        ledgerAsOf: metadata.ledgerasof ?? '',
        ...(metadata.inputs === undefined ? {} : { inputs: metadata.inputs }),
      };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async write(day: string, files: ReportFiles, info: StoredReportInfo): Promise<void> {
    const paths = reportPaths(day);
    const { csv, summary, metrics } = files;
    // First: it throws, before anything is written, when there is no data for the requests.
    const requests = files.requests === undefined ? [] : this.uploadRequests(day, files.requests);
    // The CSV and the metrics are independent blobs: uploaded together, both before the summary.
    await Promise.all([
      this.container.getBlockBlobClient(paths.csv).upload(csv, Buffer.byteLength(csv), {
        blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
      }),
      this.container.getBlockBlobClient(paths.metrics).upload(metrics, Buffer.byteLength(metrics), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
      }),
      ...(files.focus === undefined
        ? []
        : [
            this.container
              .getBlockBlobClient(paths.focus)
              .upload(files.focus, Buffer.byteLength(files.focus), {
                blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
              }),
          ]),
      ...requests,
    ]);
    // Blob metadata names must be C# identifiers: lower case, no dashes.
    await this.container.getBlockBlobClient(paths.summary).upload(summary, Buffer.byteLength(summary), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
      metadata: metadataOf(info),
    });
  }

  async keep(day: string, info: StoredReportInfo): Promise<void> {
    await this.container.getBlockBlobClient(reportPaths(day).summary).setMetadata(metadataOf(info));
  }

  /**
   * The day's data blob, staged block by block on its own name and committed by `write`: no
   * temporary blob to copy (a copy of a blob this size is asynchronous, to be polled), and readers
   * see the previous file until the commit, which swaps the whole file at once. Blocks of a sink
   * never committed are dropped by the service. One writer of a day at a time (as the daily run
   * is): an upload of the same blob in between would discard the staged blocks, and the commit
   * would then fail rather than write a wrong file.
   */
  requestsSink(day: string): ByteSink {
    const name = reportPaths(day).requests;
    const blocks = new StagedBlocks(this.container.getBlockBlobClient(name));
    return {
      write: (chunk) => blocks.write(chunk),
      close: async () => {
        this.staged.set(name, await blocks.finish());
      },
      abort: () => blocks.abandon(),
    };
  }

  async csv(day: string): Promise<string | undefined> {
    return await this.text(reportPaths(day).csv);
  }

  async summary(day: string): Promise<string | undefined> {
    return await this.text(reportPaths(day).summary);
  }

  async metrics(day: string): Promise<string | undefined> {
    return await this.text(reportPaths(day).metrics);
  }

  async focus(day: string): Promise<string | undefined> {
    return await this.text(reportPaths(day).focus);
  }

  async writeAlerts(day: string, text: string): Promise<void> {
    await this.container.getBlockBlobClient(reportPaths(day).alerts).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }

  async alerts(day: string): Promise<string | undefined> {
    return await this.text(reportPaths(day).alerts);
  }

  async writeDocument(path: string, text: string, contentType: string): Promise<void> {
    await this.container.getBlockBlobClient(path).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: contentType },
    });
  }

  async document(path: string): Promise<string | undefined> {
    return await this.text(path);
  }

  /** The data before its index: a reader that finds the index finds data at least as new. */
  private uploadRequests(day: string, requests: NonNullable<ReportFiles['requests']>): Promise<unknown>[] {
    const paths = reportPaths(day);
    const index = JSON.stringify(requests.index);
    const blob = this.container.getBlockBlobClient(paths.requests);
    const headers = { blobHTTPHeaders: { blobContentType: 'application/gzip' } };
    const { data } = requests;
    const staged = this.staged.get(paths.requests);
    if (data === undefined && staged === undefined)
      throw new Error(`${paths.requests}: no data given and no requestsSink closed`);
    this.staged.delete(paths.requests);
    return [
      (data === undefined
        ? blob.commitBlockList(staged ?? [], headers)
        : blob.upload(data, data.length, headers)
      ).then(() =>
        this.container.getBlockBlobClient(paths.requestsIndex).upload(index, Buffer.byteLength(index), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
        }),
      ),
    ];
  }

  async requests(day: string): Promise<RequestSource | undefined> {
    const paths = reportPaths(day);
    const index = await this.text(paths.requestsIndex);
    if (index === undefined) return undefined;
    const parsed = parseRequestIndex(index);
    const data = this.container.getBlobClient(paths.requests);
    return {
      index: () => Promise.resolve(parsed),
      range: async (offset, length) => new Uint8Array(await data.downloadToBuffer(offset, length)),
    };
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

/** Blob metadata names must be C# identifiers: lower case, no dashes. */
function metadataOf(info: StoredReportInfo): Record<string, string> {
  return {
    revision: String(info.revision),
    ledgerasof: info.ledgerAsOf,
    ...(info.inputs === undefined ? {} : { inputs: info.inputs }),
  };
}
