import type { ClaimedEntry, NewOutboxEntry, Outbox, OutboxEntry } from '../../ports/outbox.js';
import { oldestFirst } from '../../ports/outbox.js';

interface Stored {
  entry: OutboxEntry;
  /** Changes on every write, like a Table Storage ETag: a claim is the version it was taken at. */
  version: number;
  leaseUntil: number;
}

/** The outbox in memory, for tests and the command line: the same claims as the Table adapter. */
export class MemoryOutbox implements Outbox {
  private readonly entries = new Map<string, Stored>();
  private versions = 0;

  add(entry: NewOutboxEntry): Promise<boolean> {
    if (this.entries.has(entry.key)) return Promise.resolve(false);
    this.entries.set(entry.key, {
      entry: { ...entry, attempts: 1 },
      version: ++this.versions,
      leaseUntil: 0,
    });
    return Promise.resolve(true);
  }

  claim(now: Date, leaseMs: number, limit: number): Promise<ClaimedEntry[]> {
    const free = [...this.entries.values()]
      .filter((s) => s.leaseUntil <= now.getTime())
      .sort((a, b) => oldestFirst(a.entry, b.entry))
      .slice(0, limit);
    return Promise.resolve(
      free.map((stored) => {
        stored.version = ++this.versions;
        stored.leaseUntil = now.getTime() + leaseMs;
        return { ...stored.entry, claim: String(stored.version) };
      }),
    );
  }

  remove(entry: ClaimedEntry): Promise<boolean> {
    const stored = this.held(entry);
    if (stored) this.entries.delete(entry.key);
    return Promise.resolve(stored !== undefined);
  }

  release(entry: ClaimedEntry, error: string): Promise<boolean> {
    const stored = this.held(entry);
    if (stored) {
      stored.entry = { ...stored.entry, attempts: stored.entry.attempts + 1, lastError: error };
      stored.version = ++this.versions;
      stored.leaseUntil = 0;
    }
    return Promise.resolve(stored !== undefined);
  }

  list(): Promise<OutboxEntry[]> {
    return Promise.resolve([...this.entries.values()].map((s) => s.entry).sort(oldestFirst));
  }

  private held(entry: ClaimedEntry): Stored | undefined {
    const stored = this.entries.get(entry.key);
    return stored !== undefined && String(stored.version) === entry.claim ? stored : undefined;
  }
}
