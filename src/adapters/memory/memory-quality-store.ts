import type { Evaluation } from '../../domain/gate/verdict.js';
import type { DeadLetter } from '../../ports/ledger.js';
import type { QualityStore, StoredVerdict } from '../../ports/quality-store.js';
import { deadLetterOrder, evaluationOrder, storedJson } from '../../ports/stored-records.js';

/**
 * The quality store in memory, for tests and the command line. It keeps records as their JSON, as
 * the Table adapter does, so it refuses and rounds exactly what that one does (see
 * src/ports/stored-records.ts), and a caller changing its objects later changes nothing stored.
 * Every method yields once before it acts, so concurrent callers interleave at their awaits.
 */
export class MemoryQualityStore implements QualityStore {
  /** model -> eventId -> the evaluation's JSON. */
  private readonly kept = new Map<string, Map<string, string>>();
  private readonly letters = new Map<string, DeadLetter>();
  private readonly verdicts = new Map<string, string>();

  /** Throws a PermanentError, having kept nothing, when one evaluation is too large to keep. */
  async addEvaluations(evaluations: readonly Evaluation[]): Promise<number> {
    await Promise.resolve();
    // Every size checked before anything is kept, as the Table adapter does.
    const rows = evaluations.map(
      (e) => [e, storedJson(`evaluation ${e.eventId} of model ${e.model}`, e)] as const,
    );
    let added = 0;
    for (const [e, text] of rows) {
      const ofModel = this.kept.get(e.model) ?? new Map<string, string>();
      this.kept.set(e.model, ofModel);
      if (ofModel.has(e.eventId)) continue;
      ofModel.set(e.eventId, text);
      added += 1;
    }
    return added;
  }

  async evaluations(model: string): Promise<Evaluation[]> {
    await Promise.resolve();
    const texts = [...(this.kept.get(model)?.values() ?? [])];
    return texts.map((text) => JSON.parse(text) as Evaluation).sort(evaluationOrder);
  }

  async models(): Promise<string[]> {
    await Promise.resolve();
    return [...this.kept.keys()].sort();
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    await Promise.resolve();
    for (const letter of letters) {
      const key = JSON.stringify([letter.partition, letter.sequenceNumber]);
      if (!this.letters.has(key)) this.letters.set(key, { ...letter });
    }
  }

  async deadLetters(): Promise<DeadLetter[]> {
    await Promise.resolve();
    return [...this.letters.values()].map((letter) => ({ ...letter })).sort(deadLetterOrder);
  }

  async lastVerdict(model: string): Promise<StoredVerdict | undefined> {
    await Promise.resolve();
    const text = this.verdicts.get(model);
    return text === undefined ? undefined : (JSON.parse(text) as StoredVerdict);
  }

  async saveVerdict(model: string, verdict: StoredVerdict): Promise<void> {
    await Promise.resolve();
    this.verdicts.set(model, storedJson(`verdict of model ${model}`, verdict));
  }
}
