import { describe, expect, it } from 'vitest';
import { decidePromotion, type PromotionInput } from '../../../src/domain/promotion/decide.js';
import { parseEvent, type EvaluationEvent } from '../../../src/domain/events.js';
import type { GateRules } from '../../../src/domain/gate/rules.js';
import { parseTimestamp } from '../../../src/domain/timestamp.js';
import { at, evaluation } from '../../helpers/events.js';

function event(fields: Record<string, unknown>): EvaluationEvent {
  const parsed = parseEvent(evaluation(fields));
  if (!parsed.ok || parsed.event.type !== 'evaluation') throw new Error('bad test event');
  return parsed.event;
}

const RULES: GateRules = {
  models: {
    'llama-8b': {
      dataset: 'golden@1',
      maxAgeHours: 24,
      metrics: { exact_match: { min: 0.78, maxDrop: 0.05 }, completed: { min: 1 } },
    },
  },
};

const current = event({
  eventId: 'cur',
  modelVersion: '3',
  metrics: { exact_match: 0.8, completed: 1 },
  evaluatedAt: at(10),
});
const candidate = event({
  eventId: 'cand',
  modelVersion: '4',
  metrics: { exact_match: 0.82, completed: 1 },
  evaluatedAt: at(3600),
});

function input(overrides: Partial<PromotionInput> = {}): PromotionInput {
  return {
    model: 'llama-8b',
    candidateVersion: '4',
    currentVersion: '3',
    job: { name: 'retrain-llama-8b-1', status: 'Completed' },
    registration: {
      model: 'llama-8b',
      version: '4',
      modelUri: 'azureml://jobs/retrain-llama-8b-1/outputs/model',
      jobName: 'retrain-llama-8b-1',
    },
    evaluations: [current, candidate],
    evaluationRef: 'evaluation.json',
    rules: RULES,
    costGate: { verdict: 'pass', reasons: [], trafficDays: ['2026-03-01'], ref: 'cost-gate.json' },
    atUs: parseTimestamp(at(7200)) ?? 0,
    ...overrides,
  };
}

describe('decidePromotion', () => {
  it('promotes when the job completed, the version is registered and both gates pass', () => {
    const verdict = decidePromotion(input());
    expect(verdict).toMatchObject({
      model: 'llama-8b',
      candidateVersion: '4',
      currentVersion: '3',
      decision: 'promote',
      reasons: [],
      evidence: {
        job: 'retrain-llama-8b-1',
        modelUri: 'azureml://jobs/retrain-llama-8b-1/outputs/model',
        evaluation: 'cand',
        qualityGate: 'pass',
        costGate: 'pass',
        costGateSource: 'cost-gate.json',
      },
    });
    expect(verdict.decidedAt).toBe(at(7200).replace('.000Z', '.000Z'));
  });

  const holds: [string, Partial<PromotionInput>, RegExp][] = [
    ['no job known', { job: undefined }, /no retraining job is known for version 4/],
    [
      'a failed job',
      { job: { name: 'retrain-llama-8b-1', status: 'Failed' } },
      /retrain-llama-8b-1 is Failed, not Completed/,
    ],
    [
      'a cancelled job',
      { job: { name: 'retrain-llama-8b-1', status: 'Canceled' } },
      /is Canceled, not Completed/,
    ],
    ['no registration', { registration: undefined }, /llama-8b version 4 is not registered/],
    [
      'a registration given up on, with its reason',
      { registration: undefined, notRegisteredReason: 'not registered after 5 attempts; the last: 409' },
      /version 4 is not registered in the workspace: not registered after 5 attempts; the last: 409/,
    ],
    [
      'a registration of another job',
      { registration: { model: 'llama-8b', version: '4', modelUri: 'x', jobName: 'other' } },
      /registered from job other, not retrain-llama-8b-1/,
    ],
    ['no evaluation of the candidate', { evaluations: [current] }, /no evaluation of llama-8b version 4/],
    [
      'a stale evaluation',
      { atUs: parseTimestamp(at(3600 + 25 * 3600)) ?? 0 },
      /quality gate: .*(old|stale|age)/i,
    ],
    [
      'a partial evaluation',
      {
        evaluations: [
          current,
          event({
            eventId: 'cand',
            modelVersion: '4',
            metrics: { exact_match: 0.82, completed: 0.9 },
            evaluatedAt: at(3600),
          }),
        ],
      },
      /cand of version 4 is partial \(completed 0.9\)/,
    ],
    [
      'a run marked incomplete',
      {
        evaluations: [
          current,
          event({
            eventId: 'cand',
            modelVersion: '4',
            metrics: { exact_match: 0.82, completed: 1 },
            evaluatedAt: at(3600),
            run: { complete: false },
          }),
        ],
      },
      /is partial/,
    ],
    [
      'a quality gate failure',
      {
        evaluations: [
          current,
          event({
            eventId: 'cand',
            modelVersion: '4',
            metrics: { exact_match: 0.7, completed: 1 },
            evaluatedAt: at(3600),
          }),
        ],
      },
      /quality gate: .*exact_match/,
    ],
    [
      'a cost gate that cannot be read',
      { costGate: { error: 'cost-gate.json: not found' } },
      /no release cost gate evidence: cost-gate.json: not found/,
    ],
    [
      'a cost gate without traffic',
      { costGate: { verdict: 'pass', reasons: [], trafficDays: [], ref: 'c.json' } },
      /no days of real traffic/,
    ],
    [
      'a failed cost gate',
      {
        costGate: {
          verdict: 'fail',
          reasons: ['cost up 12% > 5%'],
          trafficDays: ['2026-03-01'],
          ref: 'c.json',
        },
      },
      /cost gate: cost up 12% > 5%/,
    ],
    [
      'unreadable gate rules',
      { rules: { error: 'rules.json: bad JSON' } },
      /cannot use the rules: rules.json: bad JSON/,
    ],
    ['a candidate that is the version in service', { currentVersion: '4' }, /is the version in service/],
  ];
  for (const [name, overrides, reason] of holds) {
    it(`holds on ${name}, with the reason`, () => {
      const verdict = decidePromotion(input(overrides));
      expect(verdict.decision).toBe('hold');
      expect(verdict.reasons.join('\n')).toMatch(reason);
    });
  }

  it('collects every reason, not only the first', () => {
    const verdict = decidePromotion(
      input({ job: undefined, registration: undefined, costGate: { error: 'none' } }),
    );
    expect(verdict.reasons).toHaveLength(3);
    expect(verdict.evidence).toMatchObject({
      job: null,
      modelUri: null,
      costGate: 'missing',
      costGateSource: null,
    });
  });

  it('judges maxDrop against the current version: a candidate below it by more than the drop holds', () => {
    const lower = event({
      eventId: 'cand',
      modelVersion: '4',
      metrics: { exact_match: 0.79, completed: 1 },
      evaluatedAt: at(3600),
    });
    const high = event({
      eventId: 'cur',
      modelVersion: '3',
      metrics: { exact_match: 0.9, completed: 1 },
      evaluatedAt: at(10),
    });
    const verdict = decidePromotion(input({ evaluations: [high, lower] }));
    expect(verdict.decision).toBe('hold');
    expect(verdict.reasons.join('\n')).toMatch(/maxDrop|drop/i);
  });

  it('judges the candidate whatever the current version did after it', () => {
    const later = event({
      eventId: 'cur2',
      modelVersion: '3',
      metrics: { exact_match: 0.5, completed: 1 },
      evaluatedAt: at(5000),
    });
    expect(decidePromotion(input({ evaluations: [current, candidate, later] })).decision).toBe('promote');
  });
});
