import type { ContainerClient } from '@azure/storage-blob';
import { PermanentError } from '../../domain/errors.js';
import type { RunStore } from '../../ports/run-store.js';

/** Runs as blobs of the reports container. */
export class BlobRunStore implements RunStore {
  constructor(private readonly container: ContainerClient) {}

  async files(folder: string): Promise<string[]> {
    const prefix = folder.endsWith('/') ? folder : `${folder}/`;
    const names: string[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix })) {
      if (/\.(ndjson|jsonl)$/.test(blob.name)) names.push(blob.name);
    }
    return names.sort();
  }

  async text(name: string): Promise<string> {
    const bytes = await this.container.getBlobClient(name).downloadToBuffer();
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new PermanentError(`${name} is not UTF-8`);
    }
  }
}
