import { describe, expect, it } from 'vitest';
import { parseCases } from '../../../src/domain/evaluation/cases.js';
import { evaluationEvent } from '../../../src/domain/evaluation/event.js';
import {
  caseResult,
  percentile,
  runMetrics,
  type CaseOutcome,
} from '../../../src/domain/evaluation/results.js';
import { parseManifest } from '../../../src/domain/evaluation/suite.js';
import { parseEvent } from '../../../src/domain/events.js';

const manifest = parseManifest(
  JSON.stringify({
    name: 's',
    version: '1',
    tenant: 't',
    feature: 'f',
    models: ['m'],
    prompt: { template: '{{input}}' },
    generation: { temperature: 0, max_tokens: 8 },
    scorers: { exact_match: {}, toxicity: { blockedWords: ['idiot'] } },
  }),
  'suite.json',
);
const cases = parseCases(
  ['a', 'b', 'c', 'd'].map((id) => JSON.stringify({ id, input: id, expected: id })).join('\n'),
  'cases.jsonl',
  manifest,
);
const answered = (text: string, latencyMs: number): CaseOutcome => ({
  kind: 'answered',
  text,
  latencyMs,
  attempts: 1,
  promptTokens: 10,
  completionTokens: 2,
});
const failed: CaseOutcome = { kind: 'failed', reason: 'HTTP 500', attempts: 3 };

function resultsOf(outcomes: CaseOutcome[]) {
  return cases.map((c, i) => caseResult(manifest, c, outcomes[i] ?? failed));
}

describe('run metrics', () => {
  it('a complete run: the means, completed 1, latency p95 and tokens per case', () => {
    const m = runMetrics(
      resultsOf([answered('a', 10), answered('b', 20), answered('wrong', 30), answered('d idiot', 40)]),
    );
    expect(m).toEqual({
      exact_match: 0.5,
      toxicity: 0.25,
      cases: 4,
      completed: 1,
      passed: 0.5,
      latency_p95_ms: 40,
      completion_tokens_per_case: 2,
      tokens_per_case: 12,
    });
  });

  it('a case not completed scores the worst: exact match 0 and toxicity 1, never left out', () => {
    const m = runMetrics(resultsOf([answered('a', 10), answered('b', 10), answered('c', 10), failed]));
    expect(m).toMatchObject({ exact_match: 0.75, toxicity: 0.25, completed: 0.75, passed: 0.75 });
  });

  it('no case completed: every metric still finite, latency and tokens left out', () => {
    const m = runMetrics(resultsOf([failed, failed, failed, failed]));
    expect(Object.values(m).every(Number.isFinite)).toBe(true);
    expect(m).toEqual({ exact_match: 0, toxicity: 1, cases: 4, completed: 0, passed: 0 });
  });

  it('nearest-rank p95', () => {
    expect(percentile([5, 1, 3, 2, 4], 0.95)).toBe(5);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.95,
      ),
    ).toBe(95);
  });

  it('records why a case failed', () => {
    const [r] = resultsOf([answered('nope', 1)]);
    expect(r?.failures).toEqual(['exact_match: answer "nope" does not match expected "a"']);
    expect(resultsOf([failed])[0]?.failures).toEqual(['not completed: HTTP 500']);
  });
});

describe('the evaluation event', () => {
  const run = {
    eventId: 'evaluation-1',
    model: 'm',
    modelVersion: 'v1',
    dataset: 's@1',
    evaluatedAt: '2026-12-07T08:00:00.000Z',
    tenant: 't',
    feature: 'f',
  };

  it("passes the repository's own event parser, partial or not", () => {
    for (const outcomes of [[answered('a', 1), answered('b', 1), answered('c', 1), answered('d', 1)], []]) {
      const parsed = parseEvent(evaluationEvent(run, resultsOf(outcomes)));
      expect(parsed.ok, parsed.ok ? '' : parsed.reason).toBe(true);
    }
  });

  it('says which cases were not completed', () => {
    const event = evaluationEvent(run, resultsOf([answered('a', 1), failed, answered('c', 1), failed]));
    expect(event.run).toMatchObject({
      complete: false,
      cases: 4,
      notCompleted: 2,
      notCompletedIds: ['b', 'd'],
    });
  });
});
