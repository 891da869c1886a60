import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exitCodeOf, judge, renderVerdict, withFailure } from '../../../src/domain/gate/judge.js';
import { parseGateRules, type GateRules } from '../../../src/domain/gate/rules.js';
import { retrainable, type Evaluation } from '../../../src/domain/gate/verdict.js';
import { formatTimestamp, parseTimestamp } from '../../../src/domain/timestamp.js';

const HOUR = 3_600_000_000;
const T0 = parseTimestamp('2026-06-01T00:00:00Z') ?? 0;
const MODEL = 'llama-3-8b';

const RULES: GateRules = parseGateRules({
  models: {
    [MODEL]: {
      dataset: 'support-qa@3',
      maxAgeHours: 36,
      metrics: { exact_match: { min: 0.78 }, toxicity: { max: 0.01 }, f1: { maxDrop: 0.02 } },
    },
  },
});

const GOOD = { exact_match: 0.81, toxicity: 0.002, f1: 0.8 };

/** An evaluation of MODEL at T0 + `hours`, good unless told otherwise. */
function ev(id: string, hours: number, fields: Partial<Evaluation> = {}): Evaluation {
  const evaluatedAtUs = T0 + hours * HOUR;
  return {
    eventId: id,
    model: MODEL,
    modelVersion: '7',
    dataset: 'support-qa@3',
    metrics: GOOD,
    evaluatedAt: formatTimestamp(evaluatedAtUs),
    evaluatedAtUs,
    ...fields,
  };
}

/** Judged one hour after T0 + `hours`. */
const at = (hours: number): number => T0 + hours * HOUR;
const reasons = (history: Evaluation[], atUs = at(1), rules: GateRules = RULES): readonly string[] =>
  judge(MODEL, history, rules, atUs).verdict.reasons;

describe('the gate passes', () => {
  it('a current evaluation on the right dataset within every bound', () => {
    const j = judge(MODEL, [ev('a', 0)], RULES, at(1));
    expect(j.verdict).toEqual({
      model: MODEL,
      modelVersion: '7',
      verdict: 'pass',
      reasons: [],
      evaluation: 'a',
      dataset: 'support-qa@3',
    });
    expect(exitCodeOf(j)).toBe(0);
  });

  it('values exactly on their bounds', () => {
    expect(reasons([ev('a', 0, { metrics: { ...GOOD, exact_match: 0.78, toxicity: 0.01 } })])).toEqual([]);
  });

  it('a fall of exactly maxDrop, despite floating-point subtraction', () => {
    const history = [
      ev('a', 0, { metrics: { ...GOOD, f1: 0.8 } }),
      ev('b', 1, { metrics: { ...GOOD, f1: 0.78 } }),
    ];
    expect(reasons(history, at(2))).toEqual([]);
  });

  it('an evaluation exactly maxAgeHours old', () => {
    expect(reasons([ev('a', 0)], at(36))).toEqual([]);
  });
});

describe('the gate fails closed', () => {
  it('when the rules could not be read, with their error', () => {
    const j = judge(MODEL, [ev('a', 0)], { error: 'rules.json: not valid JSON' }, at(1));
    expect(j.verdict.verdict).toBe('fail');
    expect(j.verdict.reasons).toEqual(['cannot use the rules: rules.json: not valid JSON']);
    expect(j.failures[0]?.kind).toBe('evidence');
  });

  it('when the rules have no entry for the model and no *', () => {
    const j = judge('other', [ev('a', 0, { model: 'other' })], RULES, at(1));
    expect(j.verdict.reasons).toEqual(['the rules have no entry for model other and no "*" entry']);
  });

  it('when there is no evaluation of the model', () => {
    const j = judge(MODEL, [ev('a', 0, { model: 'someone-else' })], RULES, at(1));
    expect(j.verdict).toMatchObject({ verdict: 'fail', evaluation: null, dataset: null, modelVersion: null });
    expect(j.verdict.reasons).toEqual([
      `no evaluation of model ${MODEL} at or before 2026-06-01T01:00:00.000Z`,
    ]);
    expect(exitCodeOf(j)).toBe(1);
  });

  it('when the latest evaluation used another dataset, naming both', () => {
    expect(reasons([ev('a', 0, { dataset: 'support-qa@2' })])).toEqual([
      'evaluation a used dataset support-qa@2; the rules require support-qa@3',
    ]);
  });

  it('when the latest evaluation is older than maxAgeHours, saying its age and the limit', () => {
    expect(reasons([ev('a', 0)], at(40.5))).toEqual([
      'evaluation a is stale: evaluated at 2026-06-01T00:00:00.000Z, 40.5 hours before ' +
        '2026-06-02T16:30:00.000Z; the limit is 36 hours',
    ]);
  });

  it('when a metric the rules name is missing', () => {
    const j = judge(MODEL, [ev('a', 0, { metrics: { exact_match: 0.9, f1: 0.8 } })], RULES, at(1));
    expect(j.verdict.reasons).toEqual(['metric toxicity is missing from evaluation a']);
    expect(j.failures[0]).toMatchObject({ kind: 'evidence', metric: 'toxicity' });
  });

  it('when a value is not finite (a history read back from a store)', () => {
    expect(reasons([ev('a', 0, { metrics: { ...GOOD, exact_match: NaN } })])).toEqual([
      'metric exact_match is NaN, not a finite number',
    ]);
  });

  it('when a value is below its min, as a quality failure', () => {
    const j = judge(MODEL, [ev('a', 0, { metrics: { ...GOOD, exact_match: 0.7 } })], RULES, at(1));
    expect(j.verdict.reasons).toEqual(['exact_match 0.7 is below its min 0.78']);
    expect(retrainable(j)).toBe(true);
  });

  it('when a value is above its max', () => {
    expect(reasons([ev('a', 0, { metrics: { ...GOOD, toxicity: 0.02 } })])).toEqual([
      'toxicity 0.02 is above its max 0.01',
    ]);
  });

  it('collecting every failure, evidence first, then metrics by name', () => {
    const bad = ev('a', 0, { dataset: 'x@1', metrics: { exact_match: 0.5, toxicity: 0.5 } });
    const j = judge(MODEL, [bad], RULES, at(48));
    expect(j.verdict.reasons).toEqual([
      'evaluation a used dataset x@1; the rules require support-qa@3',
      expect.stringMatching(/^evaluation a is stale/),
      'exact_match 0.5 is below its min 0.78',
      'metric f1 is missing from evaluation a',
      'toxicity 0.5 is above its max 0.01',
    ]);
    expect(retrainable(j)).toBe(false);
  });

  it('with both an unreadable rules file and no evaluation', () => {
    expect(judge(MODEL, [], { error: 'gone' }, at(1)).verdict.reasons).toHaveLength(2);
  });
});

describe('a failure the caller adds', () => {
  it('turns a pass into a fail, its reason first', () => {
    const j = withFailure(judge(MODEL, [ev('a', 0)], RULES, at(1)), {
      kind: 'evidence',
      reason: 'x.ndjson unreadable',
    });
    expect(j.verdict).toMatchObject({ verdict: 'fail', reasons: ['x.ndjson unreadable'], evaluation: 'a' });
    expect(exitCodeOf(j)).toBe(1);
  });
});

describe('maxDrop', () => {
  const f1 = (id: string, hours: number, value: number, dataset = 'support-qa@3'): Evaluation =>
    ev(id, hours, { dataset, metrics: { ...GOOD, f1: value } });

  it('does not fail a first evaluation, which has nothing to compare with', () => {
    expect(reasons([f1('a', 0, 0.1)])).toEqual([]);
  });

  it('still applies min and max to a first evaluation', () => {
    expect(reasons([ev('a', 0, { metrics: { ...GOOD, exact_match: 0.1 } })])).toHaveLength(1);
  });

  it('fails a fall larger than maxDrop from the last passing evaluation', () => {
    expect(reasons([f1('a', 0, 0.8), f1('b', 1, 0.75)], at(2))).toEqual([
      'f1 fell by 0.05 from 0.8 (evaluation a, the last passing one) to 0.75, more than its maxDrop 0.02',
    ]);
  });

  it('compares a later evaluation with the last passing one, not with a failed one', () => {
    // a passes; b falls too far and fails; c is close to b but still too far below a.
    const history = [f1('a', 0, 0.8), f1('b', 1, 0.7), f1('c', 2, 0.71)];
    expect(reasons(history.slice(0, 2), at(1.5))).toHaveLength(1);
    expect(reasons(history, at(3))).toEqual([
      expect.stringMatching(/^f1 fell by 0\.09 from 0\.8 \(evaluation a, the last passing one\)/),
    ]);
  });

  it('moves its reference to each evaluation that passes', () => {
    expect(reasons([f1('a', 0, 0.8), f1('b', 1, 0.79), f1('c', 2, 0.775)], at(3))).toEqual([]);
  });

  it('does not take an evaluation that failed another bound as the reference', () => {
    const failedMin = ev('b', 1, { metrics: { ...GOOD, exact_match: 0.1, f1: 0.7 } });
    expect(reasons([f1('a', 0, 0.8), failedMin, f1('c', 2, 0.7)], at(3))).toEqual([
      expect.stringMatching(/^f1 fell by 0\.1 from 0\.8 \(evaluation a/),
    ]);
  });

  it('compares only evaluations on the same dataset', () => {
    expect(reasons([f1('a', 0, 0.9, 'support-qa@2'), f1('b', 1, 0.7)], at(2))).toEqual([]);
  });

  it('ignores staleness in the history', () => {
    expect(reasons([f1('a', 0, 0.8), f1('b', 100, 0.7)], at(101))).toHaveLength(1);
  });
});

describe('which evaluation is judged', () => {
  it('ignores an evaluation after the instant judged', () => {
    const j = judge(
      MODEL,
      [ev('a', 0), ev('future', 5, { metrics: { ...GOOD, exact_match: 0 } })],
      RULES,
      at(1),
    );
    expect(j.verdict).toMatchObject({ verdict: 'pass', evaluation: 'a' });
  });

  it('counts an evaluation exactly at the instant judged', () => {
    expect(judge(MODEL, [ev('a', 0), ev('b', 1)], RULES, at(1)).verdict.evaluation).toBe('b');
  });

  it('breaks a tie in time by the greater eventId', () => {
    const history = [ev('b', 0), ev('a', 0, { metrics: { ...GOOD, exact_match: 0 } })];
    expect(judge(MODEL, history, RULES, at(1)).verdict).toMatchObject({ evaluation: 'b', verdict: 'pass' });
  });

  it('counts a duplicated eventId once, keeping one copy whatever the order', () => {
    // Two copies of b that disagree on the time: one is kept (the earlier), so c is the latest.
    const history = [ev('b', 1), ev('c', 1.5), ev('b', 2, { metrics: { ...GOOD, exact_match: 0 } })];
    const j = judge(MODEL, history, RULES, at(3));
    expect(j.verdict).toMatchObject({ evaluation: 'c', verdict: 'pass' });
    expect(judge(MODEL, [...history].reverse(), RULES, at(3))).toEqual(j);
  });

  interface Drawn {
    id: string;
    hours: number;
    exact: number;
    f1: number;
    dataset: string;
  }

  it('gives the same judgement whatever the order of the history', () => {
    const evaluation = fc.record({
      id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      hours: fc.integer({ min: 0, max: 6 }),
      exact: fc.constantFrom(0.7, 0.8, 0.9),
      f1: fc.constantFrom(0.7, 0.75, 0.79, 0.8),
      dataset: fc.constantFrom('support-qa@3', 'support-qa@2'),
    });
    const drawnTwice = fc
      .array(evaluation, { maxLength: 12 })
      .chain((drawn) =>
        fc.tuple(fc.constant(drawn), fc.shuffledSubarray(drawn, { minLength: drawn.length })),
      );
    const build = (d: Drawn): Evaluation =>
      ev(d.id, d.hours, { dataset: d.dataset, metrics: { ...GOOD, exact_match: d.exact, f1: d.f1 } });
    fc.assert(
      fc.property(drawnTwice, fc.integer({ min: 0, max: 8 }), ([drawn, shuffled], when) => {
        expect(judge(MODEL, shuffled.map(build), RULES, at(when))).toEqual(
          judge(MODEL, drawn.map(build), RULES, at(when)),
        );
      }),
    );
  });
});

describe('the printed verdict', () => {
  it('names the model, version, dataset and evaluation, then one line per reason', () => {
    const j = judge(
      MODEL,
      [ev('a', 0, { metrics: { ...GOOD, exact_match: 0.7, toxicity: 0.5 } })],
      RULES,
      at(1),
    );
    expect(renderVerdict(j)).toBe(
      'FAIL llama-3-8b 7 on support-qa@3 (evaluation a)\n' +
        '  - exact_match 0.7 is below its min 0.78\n' +
        '  - toxicity 0.5 is above its max 0.01',
    );
  });

  it('says PASS on a single line when there is nothing wrong', () => {
    expect(renderVerdict(judge(MODEL, [ev('a', 0)], RULES, at(1)))).toBe(
      'PASS llama-3-8b 7 on support-qa@3 (evaluation a)',
    );
  });

  it('says when there was no evaluation', () => {
    expect(renderVerdict(judge(MODEL, [], RULES, at(1))).split('\n')[0]).toBe(
      'FAIL llama-3-8b (no evaluation)',
    );
  });

  it('cannot be made to print a forged line by a hostile model or metric name', () => {
    const hostile = 'm\nPASS m 1 on d@1 (evaluation x)';
    const rules = parseGateRules({
      models: { '*': { dataset: 'd@1', maxAgeHours: 1, metrics: { 'f1\r\nPASS': { min: 0.5 } } } },
    });
    const history = [
      { ...ev('x\n  - fine', 0, { dataset: 'd@1', metrics: { 'f1\r\nPASS': 0.1 } }), model: hostile },
    ];
    const lines = renderVerdict(judge(hostile, history, rules, at(0.5))).split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^FAIL m\\u000aPASS/);
    expect(lines.filter((l) => l.startsWith('PASS'))).toEqual([]);
  });
});

describe('a partial run', () => {
  it('fails whatever the rules name, as evidence (no retraining), and passes once every case completed', () => {
    const partial = judge(MODEL, [ev('a', 0, { metrics: { ...GOOD, completed: 0.9 } })], RULES, at(1));
    expect(partial.verdict.verdict).toBe('fail');
    expect(partial.verdict.reasons).toEqual([
      'evaluation a is a partial run: completed 0.9 (the share of its cases that completed) is below 1, and a partial run never passes',
    ]);
    expect(retrainable(partial)).toBe(false);
    expect(reasons([ev('a', 0, { metrics: { ...GOOD, completed: 1 } })])).toEqual([]);
    // An evaluation from a harness that does not report the share is judged on its rules alone.
    expect(reasons([ev('a', 0)])).toEqual([]);
  });

  it('is never the reference of a later maxDrop', () => {
    const rules = parseGateRules({
      models: { [MODEL]: { dataset: 'support-qa@3', maxAgeHours: 48, metrics: { f1: { maxDrop: 0.02 } } } },
    });
    // The partial run scored high on the cases that answered; the next full run is judged against
    // the full run before it, not against that.
    const history = [
      ev('a', 0, { metrics: { f1: 0.8, completed: 1 } }),
      ev('b', 1, { metrics: { f1: 0.95, completed: 0.5 } }),
      ev('c', 2, { metrics: { f1: 0.79, completed: 1 } }),
    ];
    expect(reasons(history, at(3), rules)).toEqual([]);
  });
});
