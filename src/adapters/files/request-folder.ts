import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRequestIndex, type RequestIndex, type RequestSource } from '../../ports/request-store.js';

/** The files `chargeback report` writes for a day's per-request costs in `dir`. */
export function requestFilePaths(dir: string, date: string): { data: string; index: string } {
  return { data: join(dir, `requests-${date}.ndjson.gz`), index: join(dir, `requests-${date}.index.json`) };
}

/**
 * The per-request costs of `date` in `dir`, read in byte ranges; throws (ENOENT and the like, or a
 * damaged index) when they are not there.
 */
export async function folderRequestSource(dir: string, date: string): Promise<RequestSource> {
  const paths = requestFilePaths(dir, date);
  const index: RequestIndex = parseRequestIndex(await readFile(paths.index, 'utf8'));
  await (await open(paths.data, 'r')).close(); // there, and readable
  return {
    index: () => Promise.resolve(index),
    async range(offset, length) {
      const file = await open(paths.data, 'r');
      try {
        const buffer = new Uint8Array(length);
        const { bytesRead } = await file.read(buffer, 0, length, offset);
        return buffer.subarray(0, bytesRead);
      } finally {
        await file.close();
      }
    },
  };
}
