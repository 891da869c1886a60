import type { ByteSink, RunStorage } from '../../ports/byte-sink.js';

/** Runs in memory (tests, and a day small enough to hold): read back in chunks of `readChunk` bytes. */
export class MemoryRunStorage implements RunStorage {
  private readonly runs = new Map<string, readonly Uint8Array[]>();

  /** `readChunk`: at most this many bytes per chunk read, so that readers meet records cut anywhere. */
  constructor(private readonly readChunk = 64 * 1024) {}

  /** The names of the runs held, sorted. */
  names(): string[] {
    return [...this.runs.keys()].sort();
  }

  create(name: string): ByteSink {
    const chunks: Uint8Array[] = [];
    let open = true;
    const settle = (work: () => void): Promise<void> =>
      new Promise((resolve) => {
        work();
        resolve();
      });
    return {
      write: (chunk) =>
        settle(() => {
          if (!open) throw new Error(`run ${name}: written after close or abort`);
          chunks.push(chunk.slice()); // a copy: the caller's buffer may be reused
        }),
      close: () =>
        settle(() => {
          if (!open) throw new Error(`run ${name}: closed after close or abort`);
          open = false;
          this.runs.set(name, chunks);
        }),
      abort: () =>
        settle(() => {
          open = false;
        }),
    };
  }

  async *read(name: string): AsyncGenerator<Uint8Array> {
    const chunks = this.runs.get(name);
    if (chunks === undefined) throw new Error(`run ${name}: not there`);
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += this.readChunk) {
        await Promise.resolve();
        yield chunk.subarray(at, at + this.readChunk);
      }
    }
  }

  remove(name: string): Promise<void> {
    this.runs.delete(name);
    return Promise.resolve();
  }
}
