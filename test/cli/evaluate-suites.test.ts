import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readSuite } from '../../src/cli/evaluate-command.js';
import { metricsOfCase } from '../../src/domain/evaluation/results.js';
import { datasetOf } from '../../src/domain/evaluation/suite.js';
import { parseGateRules, rulesFor } from '../../src/domain/gate/rules.js';
import { MODELS } from '../../src/simulator/workload.js';

const SUITES = readdirSync('suites').sort();
const RULES = parseGateRules(JSON.parse(readFileSync('rules/quality-gates.json', 'utf8')));
/** What every run's event has whatever its scorers (results.ts). */
const ALWAYS = ['cases', 'completed', 'passed'];

describe('the example suites under suites/', () => {
  it('cover every model of the simulator', async () => {
    const covered = new Set<string>();
    for (const name of SUITES)
      for (const m of (await readSuite(`suites/${name}`)).manifest.models) covered.add(m);
    expect([...covered].sort()).toEqual(MODELS.map((m) => m.name).sort());
  });

  for (const name of SUITES) {
    it(`${name}: parses, is small enough for a local run, and is the dataset the gate expects`, async () => {
      const suite = await readSuite(`suites/${name}`);
      expect(suite.manifest.name).toBe(name);
      expect(suite.cases.length).toBeGreaterThanOrEqual(10);
      expect(suite.cases.length).toBeLessThanOrEqual(30);
      for (const model of suite.manifest.models) {
        const rules = rulesFor(RULES, model);
        expect(rules?.dataset, model).toBe(datasetOf(suite.manifest));
        // Every metric the gate reads is one this suite's run reports.
        const produced = new Set([
          ...ALWAYS,
          ...suite.cases.flatMap((c) => metricsOfCase(suite.manifest, c)),
        ]);
        for (const metric of Object.keys(rules?.metrics ?? {}))
          expect(produced, `${model}: ${metric}`).toContain(metric);
      }
    });
  }
});
