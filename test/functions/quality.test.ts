import { describe, expect, it } from 'vitest';
import { makeEvaluateQuality } from '../../functions/evaluateQuality.js';
import { makeGetGate } from '../../functions/getGate.js';
import { makeQualityTimer } from '../../functions/qualityTimer.js';
import { invoke } from '../../dev/event-hub-delivery.js';
import { HttpRequest, quietContext, TIMER } from '../../dev/functions-runtime.js';
import { MemoryOutbox } from '../../src/adapters/memory/memory-outbox.js';
import { MemoryQualityStore } from '../../src/adapters/memory/memory-quality-store.js';
import { parseGateRules } from '../../src/domain/gate/rules.js';
import type { QualityDeps } from '../../src/usecases/quality/evaluate.js';
import { evaluation } from '../helpers/events.js';

const RULES = parseGateRules({
  models: { 'llama-8b': { dataset: 'golden@1', maxAgeHours: 36, metrics: { exact_match: { min: 0.75 } } } },
});

function deps(now: Date): QualityDeps {
  return {
    quality: new MemoryQualityStore(),
    rules: RULES,
    now: () => now,
    notices: { notifier: undefined, outbox: new MemoryOutbox(), now: () => now, log: () => undefined },
  };
}

async function gate(d: QualityDeps, model: string) {
  const getGate = makeGetGate(() => Promise.resolve(d));
  return getGate(
    new HttpRequest({ method: 'GET', url: `http://localhost/api/gates/${model}`, params: { model } }),
    quietContext(),
  );
}

describe('evaluateQuality, getGate and the quality timer', () => {
  const at = new Date(Date.parse(String(evaluation().evaluatedAt)) + 3_600_000);

  it('answers 200 with the verdict once a passing evaluation has come in', async () => {
    const d = deps(at);
    await invoke(
      makeEvaluateQuality(() => Promise.resolve(d)),
      '0',
      [
        {
          body: evaluation({ metrics: { exact_match: 0.8 } }),
          sequenceNumber: 1,
          enqueuedTime: at.toISOString(),
        },
      ],
    );
    const response = await gate(d, 'llama-8b');
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ model: 'llama-8b', verdict: 'pass', dataset: 'golden@1' });
  });

  it('answers 409 with the reasons for a regression, and for a model it has never heard of', async () => {
    const d = deps(at);
    await invoke(
      makeEvaluateQuality(() => Promise.resolve(d)),
      '0',
      [
        {
          body: evaluation({ metrics: { exact_match: 0.5 } }),
          sequenceNumber: 1,
          enqueuedTime: at.toISOString(),
        },
      ],
    );
    const failed = await gate(d, 'llama-8b');
    expect(failed.status).toBe(409);
    expect(JSON.stringify(failed.jsonBody)).toContain('exact_match');
    const unknown = await gate(d, 'never-seen');
    expect(unknown.status).toBe(409);
    expect(unknown.jsonBody).toMatchObject({ verdict: 'fail', evaluation: null });
  });

  it('keeps a bad message as a dead letter without failing the batch', async () => {
    const d = deps(at);
    await invoke(
      makeEvaluateQuality(() => Promise.resolve(d)),
      '2',
      [
        { body: '{"type":"evaluation"', sequenceNumber: 7, enqueuedTime: at.toISOString() },
        { body: evaluation(), sequenceNumber: 8, enqueuedTime: at.toISOString() },
      ],
    );
    const letters = await d.quality.deadLetters();
    expect(letters.map((l) => [l.partition, l.sequenceNumber])).toEqual([['2', 7]]);
    expect(await d.quality.evaluations('llama-8b')).toHaveLength(1);
  });

  it('the timer stores a stale verdict for a model whose harness stopped reporting', async () => {
    const d = deps(at);
    await invoke(
      makeEvaluateQuality(() => Promise.resolve(d)),
      '0',
      [{ body: evaluation(), sequenceNumber: 1, enqueuedTime: at.toISOString() }],
    );
    const later = { ...d, now: () => new Date(at.getTime() + 40 * 3_600_000) };
    await makeQualityTimer(() => Promise.resolve({ quality: later }))(TIMER, quietContext());
    expect((await d.quality.lastVerdict('llama-8b'))?.verdict.verdict).toBe('fail');
  });
});
