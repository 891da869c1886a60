import { describe, expect, it } from 'vitest';
import { MemoryOutbox } from '../../../src/adapters/memory/memory-outbox.js';
import { MemoryQualityStore } from '../../../src/adapters/memory/memory-quality-store.js';
import type { TeamsMessage } from '../../../src/domain/drift/card.js';
import { parseGateRules } from '../../../src/domain/gate/rules.js';
import type { DeliveredMessage } from '../../../src/usecases/ingest/ingest.js';
import {
  ingestEvaluations,
  judgeAll,
  type QualityDeps,
  type RulesOrError,
} from '../../../src/usecases/quality/evaluate.js';
import { cardTitles, retrainSetup, TestClock } from './fixture.js';

const RULES = parseGateRules({
  models: {
    'llama-3-8b': { dataset: 'support-qa@3', maxAgeHours: 36, metrics: { exact_match: { min: 0.78 } } },
  },
});

function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'evaluation',
    schemaVersion: 1,
    eventId: 'e1',
    model: 'llama-3-8b',
    modelVersion: '7',
    dataset: 'support-qa@3',
    metrics: { exact_match: 0.81 },
    evaluatedAt: '2026-11-20T08:00:00Z',
    ...over,
  };
}

let sequence = 0;
const messages = (...bodies: unknown[]): DeliveredMessage[] =>
  bodies.map((body) => ({
    body: typeof body === 'string' ? body : JSON.stringify(body),
    partition: '0',
    sequenceNumber: sequence++,
    enqueuedTime: '2026-11-20T08:00:01Z',
  }));

function setup(rules: RulesOrError = RULES, withRetraining = false) {
  const clock = new TestClock(Date.parse('2026-11-20T09:00:00Z'));
  const posted: TeamsMessage[] = [];
  const quality = new MemoryQualityStore();
  const retrain = withRetraining ? retrainSetup({ startAt: '2026-11-20T09:00:00Z' }) : undefined;
  const deps: QualityDeps = {
    quality,
    rules,
    now: clock.now,
    notices: {
      notifier: {
        post: (m) => {
          posted.push(m);
          return Promise.resolve();
        },
      },
      outbox: new MemoryOutbox(),
      now: clock.now,
      log: () => undefined,
    },
    ...(retrain === undefined ? {} : { retrain: { ...retrain.deps, now: clock.now } }),
  };
  return { deps, clock, posted, quality, retrain };
}

describe('ingestEvaluations', () => {
  it('keeps good evaluations, dead-letters bad ones with their reasons, and judges the model', async () => {
    const { deps, quality } = setup();
    const { counts, models } = await ingestEvaluations(
      messages(
        event(),
        '{"type":"evaluation"',
        event({ eventId: 'e2', metrics: { exact_match: 'high' } }),
        event({ type: 'usage' }),
      ),
      deps,
    );
    expect(counts).toEqual({ read: 4, accepted: 1, duplicates: 0, rejected: 3 });
    const reasons = (await quality.deadLetters()).map((l) => l.reason);
    expect(reasons[0]).toMatch(/^not valid JSON/);
    expect(reasons[1]).toMatch(/metrics\.exact_match: must be a finite number/);
    expect(reasons[2]).toMatch(/^requestId: is required/);
    expect(models.get('llama-3-8b')?.judgement.verdict.verdict).toBe('pass');
  });

  it('counts a redelivered batch as duplicates and keeps one copy', async () => {
    const { deps, quality } = setup();
    const batch = messages(event());
    await ingestEvaluations(batch, deps);
    const { counts } = await ingestEvaluations(batch, deps);
    expect(counts).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await quality.evaluations('llama-3-8b')).toHaveLength(1);
  });

  it('announces a failed gate once, however often the same failure is judged', async () => {
    const { deps, posted } = setup();
    const failing = messages(event({ metrics: { exact_match: 0.5 } }));
    await ingestEvaluations(failing, deps);
    await ingestEvaluations(failing, deps);
    await judgeAll(deps);
    expect(cardTitles(posted)).toEqual([expect.stringContaining('Quality gate failed: llama-3-8b')]);
  });

  it('submits one retraining job for a regression, and none for a pass', async () => {
    const { deps, retrain } = setup(RULES, true);
    const { models } = await ingestEvaluations(
      messages(
        event({ eventId: 'bad', metrics: { exact_match: 0.5 } }),
        event({ model: 'other', eventId: 'x' }),
      ),
      deps,
    );
    expect(models.get('llama-3-8b')?.retrain?.job?.name).toMatch(/^retrain-llama-3-8b-/);
    expect(retrain?.jobs.creates).toBe(1);
  });
});

describe('judgeAll (the timer)', () => {
  it('turns a gate red once its latest evaluation is older than maxAgeHours, and says so once', async () => {
    const { deps, clock, posted } = setup();
    await ingestEvaluations(messages(event()), deps);
    expect((await judgeAll(deps)).get('llama-3-8b')?.judgement.verdict.verdict).toBe('pass');
    clock.set('2026-11-21T20:00:01Z');
    const stale = (await judgeAll(deps)).get('llama-3-8b')?.judgement.verdict;
    expect(stale?.verdict).toBe('fail');
    expect(stale?.reasons.join(' ')).toMatch(/36/);
    await judgeAll(deps);
    expect(cardTitles(posted)).toEqual([expect.stringContaining('no current evidence')]);
  });

  it('fails a gated model that never reported, and every model when the rules cannot be read', async () => {
    const named = await judgeAll(setup().deps);
    expect(named.get('llama-3-8b')?.judgement.verdict.verdict).toBe('fail');
    const { deps } = setup({ error: 'cannot read rules/quality-gates.json: ENOENT' });
    await ingestEvaluations(messages(event()), deps);
    const verdict = (await judgeAll(deps)).get('llama-3-8b')?.judgement.verdict;
    expect(verdict?.verdict).toBe('fail');
    expect(verdict?.reasons.join(' ')).toContain('ENOENT');
  });
});
