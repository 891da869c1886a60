import type { AlertState, PostKind } from '../../domain/drift/lifecycle.js';
import type { AlertStore } from '../../ports/alert-store.js';

/** The alert store in memory, for tests and the command line's dry runs. */
export class MemoryAlertStore implements AlertStore {
  private readonly byId = new Map<string, AlertState>();
  private readonly claims = new Set<string>();

  states(): Promise<AlertState[]> {
    return Promise.resolve([...this.byId.values()]);
  }

  save(states: readonly AlertState[]): Promise<void> {
    for (const state of states) this.byId.set(state.id, state);
    return Promise.resolve();
  }

  claim(day: string, id: string, kind: PostKind): Promise<boolean> {
    const key = JSON.stringify([day, id, kind]);
    if (this.claims.has(key)) return Promise.resolve(false);
    this.claims.add(key);
    return Promise.resolve(true);
  }
}
