import type { Day } from '../../domain/days.js';
import type { AlertRecord } from '../../domain/drift/lifecycle.js';
import type {
  AlertStore,
  ClaimInfo,
  ClaimStatus,
  PostClaim,
  StoredAlert,
  WriteOutcome,
} from '../../ports/alert-store.js';

const claimKey = (c: Pick<PostClaim, 'day' | 'id' | 'phase'>): string =>
  JSON.stringify([c.day, c.id, c.phase]);

/**
 * The alert store in memory, for tests and the command line. Every method yields once before it
 * acts, so concurrent runs interleave at their awaits as they would against a remote store.
 */
export class MemoryAlertStore implements AlertStore {
  private readonly rows = new Map<string, StoredAlert>();
  private readonly claimRows = new Map<string, ClaimInfo>();
  private counter = 0;

  async records(): Promise<StoredAlert[]> {
    await Promise.resolve();
    return [...this.rows.values()];
  }

  async get(id: string): Promise<StoredAlert | undefined> {
    await Promise.resolve();
    return this.rows.get(id);
  }

  async put(record: AlertRecord, expected: string | undefined): Promise<WriteOutcome> {
    await Promise.resolve();
    if (this.rows.get(record.id)?.version !== expected) return 'conflict';
    // A copy, so a caller changing its object later cannot change what is stored.
    this.rows.set(record.id, { record: structuredClone(record), version: String(++this.counter) });
    return 'written';
  }

  async claim(claim: PostClaim): Promise<'won' | 'lost'> {
    await Promise.resolve();
    const key = claimKey(claim);
    if (this.claimRows.has(key)) return 'lost';
    this.claimRows.set(key, { ...claim, status: 'claimed' });
    return 'won';
  }

  async settle(
    key: Pick<PostClaim, 'day' | 'id' | 'phase'>,
    status: Exclude<ClaimStatus, 'claimed'>,
    at: string,
  ): Promise<void> {
    await Promise.resolve();
    const claim = this.claimRows.get(claimKey(key));
    if (claim === undefined) throw new Error(`no claim for ${key.id} on ${key.day} (${key.phase})`);
    this.claimRows.set(claimKey(key), { ...claim, status, settledAt: at });
  }

  async claims(day: Day): Promise<ClaimInfo[]> {
    await Promise.resolve();
    return [...this.claimRows.values()].filter((c) => c.day === day);
  }
}
