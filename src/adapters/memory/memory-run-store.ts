import { PermanentError } from '../../domain/errors.js';
import type { RunStore } from '../../ports/run-store.js';

/** Runs in memory, as bytes by blob name. */
export class MemoryRunStore implements RunStore {
  readonly blobs = new Map<string, Uint8Array>();

  put(name: string, text: string | Uint8Array): void {
    this.blobs.set(name, typeof text === 'string' ? new TextEncoder().encode(text) : text);
  }

  files(folder: string): Promise<string[]> {
    const prefix = folder.endsWith('/') ? folder : `${folder}/`;
    return Promise.resolve(
      [...this.blobs.keys()].filter((n) => n.startsWith(prefix) && /\.(ndjson|jsonl)$/.test(n)).sort(),
    );
  }

  text(name: string): Promise<string> {
    return new Promise((resolve) => {
      const bytes = this.blobs.get(name) ?? new Uint8Array();
      try {
        resolve(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
      } catch {
        throw new PermanentError(`${name} is not UTF-8`);
      }
    });
  }
}
