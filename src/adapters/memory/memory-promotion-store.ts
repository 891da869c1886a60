/** PromotionStore in maps, for tests and local runs (contracts.md §16). */
import type { PromotionVerdict } from '../../domain/promotion/decide.js';
import { decisionKey, type PromotionStore } from '../../ports/promotion-store.js';

export class MemoryPromotionStore implements PromotionStore {
  private readonly decisions = new Set<string>();
  private readonly last = new Map<string, PromotionVerdict>();

  record(verdict: PromotionVerdict): Promise<boolean> {
    const key = `${verdict.model}\n${decisionKey(verdict)}`;
    const isNew = !this.decisions.has(key);
    this.decisions.add(key);
    const stored = this.last.get(verdict.model);
    if (stored === undefined || stored.decidedAt <= verdict.decidedAt) this.last.set(verdict.model, verdict);
    return Promise.resolve(isNew);
  }

  latest(model: string): Promise<PromotionVerdict | undefined> {
    return Promise.resolve(this.last.get(model));
  }
}
