import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ByteSink, RunStorage } from '../../ports/byte-sink.js';

/** Bytes per chunk read: large enough that a run is read in few calls, small beside a unit's memory. */
const READ_CHUNK = 256 * 1024;

/**
 * Runs as files of a local folder (the command line, a worker's temporary disk), created when the
 * first run is. A run is written to a `.partial` file of its own and renamed when closed, so a
 * reader never meets half a run. Names are encoded (`encodeURIComponent`), so any name is one file
 * of the folder.
 */
export class FolderRunStorage implements RunStorage {
  constructor(private readonly dir: string) {}

  create(name: string): ByteSink {
    const path = this.path(name);
    const partial = `${path}.${randomBytes(4).toString('hex')}.partial`;
    let file: Promise<FileHandle> | undefined;
    const opened = (): Promise<FileHandle> =>
      (file ??= failing(
        partial,
        (async () => {
          await mkdir(this.dir, { recursive: true });
          return await open(partial, 'w');
        })(),
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
        await failing(path, rename(partial, path));
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

  async *read(name: string): AsyncGenerator<Uint8Array> {
    const path = this.path(name);
    try {
      for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK })) yield chunk as Buffer;
    } catch (error) {
      throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  async remove(name: string): Promise<void> {
    await failing(this.path(name), rm(this.path(name), { force: true }));
  }

  private path(name: string): string {
    return join(this.dir, `run-${encodeURIComponent(name)}`);
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
