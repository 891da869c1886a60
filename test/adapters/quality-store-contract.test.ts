import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { MemoryQualityStore } from '../../src/adapters/memory/memory-quality-store.js';
import { TableQualityStore } from '../../src/adapters/azure-storage/table-quality-store.js';
import { PermanentError } from '../../src/domain/errors.js';
import type { Evaluation } from '../../src/domain/gate/verdict.js';
import type { DeadLetter } from '../../src/ports/ledger.js';
import type { QualityStore, StoredVerdict } from '../../src/ports/quality-store.js';

const T0 = Date.parse('2026-05-01T00:00:00.000Z') * 1000;

function evaluation(eventId: string, fields: Partial<Evaluation> = {}): Evaluation {
  const evaluatedAtUs = fields.evaluatedAtUs ?? T0;
  return {
    eventId,
    model: 'llama-3-8b',
    modelVersion: '7',
    dataset: 'support-qa@3',
    metrics: { exact_match: 0.81, toxicity: 0.002 },
    evaluatedAt: new Date(evaluatedAtUs / 1000).toISOString(),
    evaluatedAtUs,
    commit: 'abc123',
    ...fields,
  };
}

function letter(partition: string, sequenceNumber: number, fields: Partial<DeadLetter> = {}): DeadLetter {
  return {
    partition,
    sequenceNumber,
    enqueuedTime: '2026-05-01T10:00:00.000Z',
    reason: 'metrics.f1: must be a finite number',
    body: '{"type":"evaluation"}',
    bodyForm: 'text',
    bodyBytes: 21,
    truncated: false,
    ...fields,
  };
}

function stored(model: string, verdict: 'pass' | 'fail', reasons: string[] = []): StoredVerdict {
  return {
    verdict: { model, modelVersion: '7', verdict, reasons, evaluation: 'e1', dataset: 'support-qa@3' },
    judgedAt: '2026-05-01T12:00:00.000Z',
  };
}

// Every character a Table key forbids, separators and escapes the adapter might use, control
// characters, non-ASCII, a lone surrogate, and a model name longer than a key may be.
const ODD = [
  'a/b\\c#d?e',
  'x%2Fy',
  'eval:model|row',
  "o'brien",
  'ctl\u0000\u0001\u001f\u007f\u0085',
  'emoji 🚀 日本語',
  'lone \ud800 surrogate',
];
const LONG_MODEL = `model-${'m/'.repeat(97)}`; // 200 characters

const ids = (list: readonly Evaluation[]): string[] => list.map((e) => e.eventId);

function contract(name: string, make: () => Promise<QualityStore>): void {
  describe(`quality store contract: ${name}`, () => {
    it('adds nothing when the same batch comes again', async () => {
      const store = await make();
      const batch = [evaluation('e1'), evaluation('e2'), evaluation('e3', { model: 'phi-3' })];
      expect(await store.addEvaluations(batch)).toBe(3);
      const before = await store.evaluations('llama-3-8b');
      expect(await store.addEvaluations(batch)).toBe(0);
      expect(await store.evaluations('llama-3-8b')).toEqual(before);
    });

    it('keeps the first of two evaluations with the same model and eventId', async () => {
      const store = await make();
      await store.addEvaluations([evaluation('e1')]);
      await store.addEvaluations([evaluation('e1', { metrics: { exact_match: 0.1 } })]);
      expect((await store.evaluations('llama-3-8b')).map((e) => e.metrics)).toEqual([
        { exact_match: 0.81, toxicity: 0.002 },
      ]);
    });

    it('counts only the evaluations that were new', async () => {
      const store = await make();
      await store.addEvaluations([evaluation('e1')]);
      expect(await store.addEvaluations([evaluation('e1'), evaluation('e2'), evaluation('e2')])).toBe(1);
    });

    it('keeps the same eventId under two models as two evaluations', async () => {
      const store = await make();
      expect(await store.addEvaluations([evaluation('e1'), evaluation('e1', { model: 'phi-3' })])).toBe(2);
      expect(ids(await store.evaluations('phi-3'))).toEqual(['e1']);
    });

    it('lists a model’s evaluations oldest first, then by eventId', async () => {
      const store = await make();
      await store.addEvaluations([
        evaluation('c', { evaluatedAtUs: T0 + 2 }),
        evaluation('b', { evaluatedAtUs: T0 + 1 }),
        evaluation('a', { evaluatedAtUs: T0 + 2 }),
        evaluation('z', { evaluatedAtUs: T0 }),
      ]);
      expect(ids(await store.evaluations('llama-3-8b'))).toEqual(['z', 'b', 'a', 'c']);
    });

    it('returns every field and every metric exactly as added', async () => {
      const store = await make();
      const metrics = { sum: 0.1 + 0.2, tiny: 1e-300, subnormal: 5e-324, huge: Number.MAX_VALUE, neg: -2.5 };
      const e = evaluation('e1', { metrics, evaluatedAt: '2026-05-01T00:00:00.123456Z' });
      await store.addEvaluations([e]);
      expect(await store.evaluations('llama-3-8b')).toEqual([e]);
    });

    it('returns -0 as 0, as JSON does', async () => {
      const store = await make();
      await store.addEvaluations([evaluation('e1', { metrics: { delta: -0 } })]);
      const [kept] = await store.evaluations('llama-3-8b');
      expect(Object.is(kept?.metrics.delta, 0)).toBe(true);
    });

    it('keeps models and eventIds with hostile characters apart and returns them as added', async () => {
      const store = await make();
      const batch = [...ODD, LONG_MODEL].flatMap((model) =>
        ODD.map((eventId) => evaluation(eventId, { model })),
      );
      expect(await store.addEvaluations(batch)).toBe(batch.length);
      expect(await store.addEvaluations(batch)).toBe(0);
      for (const model of [...ODD, LONG_MODEL]) {
        expect(await store.evaluations(model)).toEqual(batch.filter((e) => e.model === model).sort(byId));
      }
    });

    it('lists each model once, sorted', async () => {
      const store = await make();
      await store.addEvaluations([evaluation('e1', { model: 'phi-3' }), evaluation('e1')]);
      await store.addEvaluations([evaluation('e2', { model: 'phi-3' }), evaluation('e1', { model: 'a/b' })]);
      await store.addEvaluations([evaluation('e1', { model: LONG_MODEL })]);
      expect(await store.models()).toEqual(['a/b', 'llama-3-8b', LONG_MODEL, 'phi-3'].sort());
    });

    it('returns an evaluation whose metrics are longer than one Table property holds', async () => {
      const store = await make();
      const metrics = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`metric_${i}`, i / 7]));
      const e = evaluation('big', { metrics });
      expect(JSON.stringify(e).length).toBeGreaterThan(32 * 1024);
      await store.addEvaluations([e]);
      expect(await store.evaluations('llama-3-8b')).toEqual([e]);
    });

    it('refuses, keeping none of the batch, an evaluation too large to store', async () => {
      const store = await make();
      const metrics = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`metric_${i}`, i / 7]));
      const batch = [evaluation('small'), evaluation('huge', { metrics })];
      await expect(store.addEvaluations(batch)).rejects.toThrow(PermanentError);
      expect(await store.evaluations('llama-3-8b')).toEqual([]);
    });

    it('keeps one dead letter per partition and sequence number, the first', async () => {
      const store = await make();
      await store.deadLetter([letter('0', 7), letter('1', 7)]);
      await store.deadLetter([letter('0', 7, { reason: 'again' })]);
      expect(
        (await store.deadLetters()).map((l) => `${l.partition}/${l.sequenceNumber} ${l.reason}`),
      ).toEqual(['0/7 metrics.f1: must be a finite number', '1/7 metrics.f1: must be a finite number']);
    });

    it('lists dead letters oldest first, then by partition and sequence number', async () => {
      const store = await make();
      await store.deadLetter([
        letter('1', 2, { enqueuedTime: '2026-05-02T00:00:00.000Z' }),
        letter('1', 10),
        letter('0', 30),
        letter('1', 9),
      ]);
      expect((await store.deadLetters()).map((l) => `${l.partition}/${l.sequenceNumber}`)).toEqual([
        '0/30',
        '1/9',
        '1/10',
        '1/2',
      ]);
    });

    it('returns a dead letter’s 256 KiB body of control characters and multi-byte text as it was', async () => {
      const store = await make();
      const body = '\u0000\u0001"\\/#?é😀'.repeat(20_000);
      expect(Buffer.byteLength(body)).toBeGreaterThan(250 * 1024);
      const big = letter('0', 1, { body, bodyBytes: Buffer.byteLength(body), reason: 'ctl \u0001 #?' });
      await store.deadLetter([big]);
      expect(await store.deadLetters()).toEqual([big]);
    });

    it('returns a dead letter whose body holds a lone surrogate as it was', async () => {
      const store = await make();
      const odd = letter('0', 1, { body: 'a\udc00b', bodyForm: 'json' });
      await store.deadLetter([odd]);
      expect(await store.deadLetters()).toEqual([odd]);
    });

    it('has no verdict for a model never judged', async () => {
      const store = await make();
      expect(await store.lastVerdict('llama-3-8b')).toBeUndefined();
    });

    it('returns the verdict last saved for each model', async () => {
      const store = await make();
      await store.saveVerdict('llama-3-8b', stored('llama-3-8b', 'fail', ['toxicity 0.2 > 0.01']));
      await store.saveVerdict(ODD[0] ?? '', stored('other', 'fail'));
      await store.saveVerdict('llama-3-8b', stored('llama-3-8b', 'pass'));
      expect(await store.lastVerdict('llama-3-8b')).toEqual(stored('llama-3-8b', 'pass'));
      expect(await store.lastVerdict(ODD[0] ?? '')).toEqual(stored('other', 'fail'));
    });
  });
}

function byId(a: Evaluation, b: Evaluation): number {
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

contract('memory', () => Promise.resolve(new MemoryQualityStore()));

contract('table (Azurite)', async () => {
  const name = `quality${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const table = TableClient.fromConnectionString(inject('azurite'), name, { allowInsecureConnection: true });
  const store = new TableQualityStore(table);
  await store.ensure();
  return store;
});
