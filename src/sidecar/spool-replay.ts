import { unsendable, type Unsendable } from './event-limits.js';
import type { Spool } from './spool.js';

/** What sending a spool file needs from the pipe. */
export interface SpoolReplayDeps {
  /** Sends a batch whole or throws; returns the events it refused for good. */
  readonly send: (events: readonly Record<string, unknown>[]) => Promise<readonly Unsendable[]>;
  readonly spool: Spool;
  readonly batchMax: number;
  readonly maxEventBytes: number;
  readonly counters: {
    replayed(n: number): void;
    published(n: number): void;
    dropped(n: number): void;
  };
  readonly log: (message: string) => void;
  /** Keeps events that can never be sent in the rejected file, counted and logged. */
  readonly setAside: (rejected: readonly Unsendable[]) => void;
}

/**
 * Sends one spool file from where it was left, batch by batch, recording after each batch how many
 * lines are sent; true when it is done and removed, false when the sender failed (try later).
 */
export async function replaySpoolFile(file: string, deps: SpoolReplayDeps): Promise<boolean> {
  const { spool, batchMax, counters } = deps;
  const lines = await spool.lines(file);
  let sent = await spool.progress(file);
  while (sent < lines.length) {
    const { batch, rejected } = readBatch(file, lines.slice(sent, sent + batchMax), deps);
    let refused: readonly Unsendable[] = [];
    try {
      if (batch.length > 0) refused = await deps.send(batch);
    } catch (error) {
      deps.log(`replay of ${file} failed (${(error as Error).message}); will retry`);
      return false;
    }
    sent = Math.min(lines.length, sent + batchMax);
    counters.replayed(batch.length - refused.length);
    counters.published(batch.length - refused.length);
    deps.setAside([...rejected, ...refused]);
    await spool.saveProgress(file, sent);
  }
  await spool.remove(file);
  return true;
}

function readBatch(
  file: string,
  lines: readonly string[],
  deps: SpoolReplayDeps,
): { batch: Record<string, unknown>[]; rejected: Unsendable[] } {
  const batch: Record<string, unknown>[] = [];
  const rejected: Unsendable[] = [];
  for (const line of lines) {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // A line cut short by a crash mid-write: nothing can be sent from it; say so and count it.
      deps.log(`spool ${file}: skipping an unreadable line`);
      deps.counters.dropped(1);
      continue;
    }
    // A spool written before the size check existed may hold an event no batch can carry.
    const reason = unsendable(event, deps.maxEventBytes);
    if (reason === undefined) batch.push(event);
    else rejected.push({ event, reason });
  }
  return { batch, rejected };
}
