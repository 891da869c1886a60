import { RestError, type ContainerClient } from '@azure/storage-blob';
import type { ByteSink, RunStorage } from '../../ports/byte-sink.js';
import { StagedBlocks } from './staged-blocks.js';

/**
 * Runs as block blobs `prefix + name` of a container, for a day computed on several machines:
 * written block by block and committed when closed (a reader sees the whole run or none of it),
 * read with one streamed download.
 */
export class BlobRunStorage implements RunStorage {
  constructor(
    private readonly container: ContainerClient,
    private readonly prefix = '',
    private readonly blockBytes = 4 * 1024 * 1024,
  ) {}

  create(name: string): ByteSink {
    const blob = this.container.getBlockBlobClient(this.prefix + name);
    const blocks = new StagedBlocks(blob, this.blockBytes);
    return {
      write: (chunk) => blocks.write(chunk),
      close: async () => {
        await blob.commitBlockList(await blocks.finish());
      },
      abort: () => blocks.abandon(),
    };
  }

  async *read(name: string): AsyncGenerator<Uint8Array> {
    const blobName = this.prefix + name;
    let body: NodeJS.ReadableStream | undefined;
    try {
      body = (await this.container.getBlobClient(blobName).download()).readableStreamBody;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404)
        throw new Error(`run ${blobName}: not there`);
      throw error;
    }
    if (body === undefined) throw new Error(`run ${blobName}: no body downloaded`);
    for await (const chunk of body) yield chunk as Buffer;
  }

  async remove(name: string): Promise<void> {
    await this.container.getBlobClient(this.prefix + name).deleteIfExists();
  }
}
