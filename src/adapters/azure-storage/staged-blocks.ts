import { randomBytes } from 'node:crypto';
import type { BlockBlobClient } from '@azure/storage-blob';

/**
 * Blocks of a block blob staged as bytes come, so nothing holds the whole blob: the bytes gather
 * into a block of `blockBytes`, which is staged while the next one gathers. Staged blocks change
 * nothing a reader sees until a block list naming them is committed; blocks never committed are
 * discarded by the service (a week later, or at the blob's next commit).
 * https://learn.microsoft.com/rest/api/storageservices/put-block
 */
export class StagedBlocks {
  /** Every block id of one blob must have the same length; a random prefix keeps two writers' apart. */
  private readonly prefix = randomBytes(6).toString('hex');
  private readonly ids: string[] = [];
  private block: Buffer;
  private used = 0;
  private staging: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly blob: BlockBlobClient,
    private readonly blockBytes = 4 * 1024 * 1024,
  ) {
    this.block = Buffer.allocUnsafe(blockBytes);
  }

  async write(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length;) {
      const taken = Math.min(chunk.length - at, this.block.length - this.used);
      this.block.set(chunk.subarray(at, at + taken), this.used);
      this.used += taken;
      at += taken;
      if (this.used === this.block.length) await this.stage();
    }
  }

  /** Stages what is left; the ids of every block, in order, for the block list. */
  async finish(): Promise<string[]> {
    if (this.used > 0) await this.stage();
    await this.staging;
    return [...this.ids];
  }

  /** Waits for a block being staged, failed or not (its bytes are dropped with the others). */
  async abandon(): Promise<void> {
    await this.staging.catch(() => undefined);
  }

  private async stage(): Promise<void> {
    await this.staging; // one block in flight: memory is two blocks
    const bytes = this.block.subarray(0, this.used);
    const id = Buffer.from(`${this.prefix}-${String(this.ids.length).padStart(6, '0')}`).toString('base64');
    this.ids.push(id);
    this.block = Buffer.allocUnsafe(this.blockBytes);
    this.used = 0;
    this.staging = this.blob.stageBlock(id, bytes, bytes.length);
    this.staging.catch(() => undefined); // surfaces from the next stage or finish
  }
}
