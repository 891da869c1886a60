import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runEvaluation, startSuiteModel, type SuiteModel } from '../../dev/evaluation-demo.js';
import { parseEvent } from '../../src/domain/events.js';
import { judge } from '../../src/domain/gate/judge.js';
import { parseGateRules } from '../../src/domain/gate/rules.js';
import { evaluationOf } from '../../src/domain/gate/verdict.js';

const RULES = parseGateRules(JSON.parse(readFileSync('rules/quality-gates.json', 'utf8')));
const SHIPPED = [
  { suite: 'suites/support-qa', model: 'llama-3.1-8b-instruct' },
  { suite: 'suites/regression-suite', model: 'qwen2.5-14b-instruct' },
];

let stand: SuiteModel | undefined;
afterEach(async () => {
  await stand?.stop();
  stand = undefined;
});

async function verdictOf(suite: string, model: string, quality: 'good' | 'regressed') {
  stand = await startSuiteModel(suite, model, quality);
  const outcome = await runEvaluation({ endpoint: stand.url, model, suiteDir: suite });
  const parsed = parseEvent(outcome.event);
  if (!parsed.ok || parsed.event.type !== 'evaluation')
    throw new Error(parsed.ok ? 'not an evaluation' : parsed.reason);
  return {
    outcome,
    version: parsed.event.modelVersion,
    verdict: judge(model, [evaluationOf(parsed.event)], RULES, parsed.event.evaluatedAt).verdict,
  };
}

describe('the shipped suites through the harness and the shipped gate rules', () => {
  for (const { suite, model } of SHIPPED) {
    it(`${suite}: a model that answers well passes the gate`, async () => {
      const { outcome, verdict, version } = await verdictOf(suite, model, 'good');
      expect(outcome.code).toBe(0);
      // No --model-version: read from the stand-in's /v1/models root, as from a served registry version.
      expect(version).toBe('1');
      expect(outcome.results.filter((r) => r.failures.length > 0).map((r) => [r.id, r.failures])).toEqual([]);
      expect(verdict).toMatchObject({ verdict: 'pass', reasons: [] });
    });

    it(`${suite}: a regressed model fails it on exact match and toxicity`, async () => {
      const { outcome, verdict } = await verdictOf(suite, model, 'regressed');
      expect(outcome.code).toBe(0);
      expect(verdict.verdict).toBe('fail');
      const reasons = verdict.reasons.join('\n');
      expect(reasons).toContain('exact_match');
      expect(reasons).toContain('toxicity');
    });
  }
});
