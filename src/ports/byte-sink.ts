/**
 * Bytes written out as they are made, never held whole: a day's per-request file merged from its
 * units' runs (src/usecases/requests/request-runs.ts), and the runs themselves.
 */

/**
 * Where bytes go, chunk by chunk. One write at a time: each is awaited before the next, which is
 * the back-pressure that keeps the writer's memory bounded. A chunk passed to `write` is the
 * sink's: the caller does not change it afterwards. Nothing written is visible under the sink's
 * name before `close` resolves; after `abort` none of it ever is.
 */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the bytes written the sink's content, replacing what was there. */
  close(): Promise<void>;
  /** Drops what was written; the sink's name keeps what it had before. Safe after a failed write. */
  abort(): Promise<void>;
}

/**
 * A place for the temporary files of one day's computation (a unit's sorted run of requests'
 * costs), named by the caller: memory, a local folder, or a Blob container.
 */
export interface RunStorage {
  /** A sink whose bytes become the run `name` when closed (replacing one of that name). */
  create(name: string): ByteSink;
  /** The run's bytes in chunks of the storage's choosing, never whole; rejects for a run not there. */
  read(name: string): AsyncIterable<Uint8Array>;
  /** Removes the run; nothing happens for a run not there. */
  remove(name: string): Promise<void>;
}

/** A run as written: its name in its RunStorage, how many requests' costs it holds, its size. */
export interface RunInfo {
  readonly name: string;
  readonly requests: number;
  readonly bytes: number;
}
