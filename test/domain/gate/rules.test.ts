import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/domain/errors.js';
import { gatedModels, parseGateRules, rulesFor } from '../../../src/domain/gate/rules.js';

const SPEC_EXAMPLE = {
  models: {
    'llama-3-8b': {
      dataset: 'support-qa@3',
      maxAgeHours: 36,
      metrics: { exact_match: { min: 0.78 }, toxicity: { max: 0.01 }, f1: { maxDrop: 0.02 } },
    },
  },
};

/** The example of contracts.md §10 with the llama entry's f1 bound (or the whole entry) replaced. */
const withBound = (bound: unknown): unknown => ({
  models: { 'llama-3-8b': { ...SPEC_EXAMPLE.models['llama-3-8b'], metrics: { f1: bound } } },
});
const withEntry = (entry: Record<string, unknown>): unknown => ({
  models: { 'llama-3-8b': { ...SPEC_EXAMPLE.models['llama-3-8b'], ...entry } },
});

function reasonOf(value: unknown): string {
  try {
    parseGateRules(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('parseGateRules accepted it');
}

describe('the gate rules file', () => {
  it('reads the contracts.md §10 example as it is written', () => {
    expect(parseGateRules(SPEC_EXAMPLE)).toEqual(SPEC_EXAMPLE);
  });

  it('accepts the shipped example rules/quality-gates.json', () => {
    const rules = parseGateRules(JSON.parse(readFileSync('rules/quality-gates.json', 'utf8')));
    expect(gatedModels(rules).length).toBeGreaterThan(0);
    expect(rulesFor(rules, 'a-model-it-does-not-name')).toBeDefined();
  });

  it('refuses a negative maxDrop, naming the metric and the field', () => {
    expect(reasonOf(withBound({ maxDrop: -0.01 }))).toBe(
      'gate rules: models.llama-3-8b.metrics.f1: maxDrop must be a number >= 0',
    );
  });

  it('refuses a bound that is not a number', () => {
    expect(reasonOf(withBound({ min: '0.7' }))).toMatch(/metrics\.f1: min must be a finite number/);
  });

  it('refuses non-finite bounds', () => {
    for (const n of [Infinity, -Infinity, NaN])
      expect(reasonOf(withBound({ max: n })), String(n)).toMatch(/metrics\.f1: max must be a finite number/);
  });

  it('refuses a misspelt bound key rather than ignoring it', () => {
    expect(reasonOf(withBound({ mn: 0.7 }))).toMatch(/metrics\.f1: unknown key "mn"/);
  });

  it('refuses a bound with none of min, max and maxDrop', () => {
    expect(reasonOf(withBound({}))).toMatch(/metrics\.f1: needs at least one of min, max, maxDrop/);
  });

  it('refuses min above max', () => {
    expect(reasonOf(withBound({ min: 0.9, max: 0.8 }))).toMatch(/metrics\.f1: min 0\.9 must be <= max 0\.8/);
  });

  it('accepts min equal to max', () => {
    expect(parseGateRules(withBound({ min: 0.8, max: 0.8 })).models['llama-3-8b']?.metrics.f1).toEqual({
      min: 0.8,
      max: 0.8,
    });
  });

  it('refuses a model entry with no metrics', () => {
    expect(reasonOf(withEntry({ metrics: {} }))).toMatch(
      /models\.llama-3-8b: metrics must name at least one/,
    );
  });

  it('refuses a dataset that is not name@version', () => {
    expect(reasonOf(withEntry({ dataset: 'support-qa' }))).toMatch(
      /llama-3-8b: dataset must be name@version/,
    );
  });

  it('requires maxAgeHours, and it must be above zero', () => {
    expect(reasonOf(withEntry({ maxAgeHours: undefined }))).toMatch(/llama-3-8b: maxAgeHours is required/);
    expect(reasonOf(withEntry({ maxAgeHours: 0 }))).toMatch(/maxAgeHours must be a number > 0/);
  });

  it('refuses an unknown field in a model entry and at the top', () => {
    expect(reasonOf(withEntry({ maxAge: 3 }))).toMatch(/models\.llama-3-8b: unknown key "maxAge"/);
    expect(reasonOf({ ...SPEC_EXAMPLE, model: {} })).toMatch(/unknown key "model"/);
  });

  it('refuses a file without models, or that is not an object', () => {
    expect(reasonOf({})).toBe('gate rules: models is required');
    expect(reasonOf([])).toMatch(/must be a JSON object/);
  });

  it('refuses an empty metric name', () => {
    expect(reasonOf(withEntry({ metrics: { '': { min: 1 } } }))).toMatch(
      /models\.llama-3-8b\.metrics: a metric name must not be empty/,
    );
  });

  it('refuses a __proto__ name, which a record would silently drop', () => {
    const text =
      '{"models":{"m":{"dataset":"d@1","maxAgeHours":1,"metrics":{"__proto__":{"min":1},"f1":{"min":0}}}}}';
    expect(reasonOf(JSON.parse(text))).toMatch(/models\.m\.metrics: a name must not be __proto__/);
  });

  it('keeps a $comment out of the parsed rules', () => {
    const rules = parseGateRules({ $comment: 'why', models: { m: { ...withEntryValue(), $comment: 'x' } } });
    expect(rules).toEqual({ models: { m: withEntryValue() } });
  });
});

function withEntryValue(): { dataset: string; maxAgeHours: number; metrics: Record<string, object> } {
  return { dataset: 'd@1', maxAgeHours: 2, metrics: { f1: { min: 0.5 } } };
}

describe('which rules apply to a model', () => {
  const rules = parseGateRules({
    models: {
      'qwen-14b': { dataset: 'q@1', maxAgeHours: 1, metrics: { f1: { min: 0.5 } } },
      '*': { dataset: 'any@1', maxAgeHours: 1, metrics: { f1: { min: 0.1 } } },
      'llama-8b': { dataset: 'l@1', maxAgeHours: 1, metrics: { f1: { min: 0.6 } } },
    },
  });

  it("takes the model's own entry over *", () => {
    expect(rulesFor(rules, 'qwen-14b')?.dataset).toBe('q@1');
  });

  it('falls back to * for a model without its own entry', () => {
    expect(rulesFor(rules, 'mistral-7b')?.dataset).toBe('any@1');
  });

  it('has none for an unnamed model when there is no *', () => {
    const own = parseGateRules({ models: { a: withEntryValue() } });
    expect(rulesFor(own, 'b')).toBeUndefined();
  });

  it('does not take an Object.prototype member for an entry', () => {
    const own = parseGateRules({ models: { a: withEntryValue() } });
    expect(rulesFor(own, 'toString')).toBeUndefined();
    expect(rulesFor(own, 'constructor')).toBeUndefined();
  });

  it('lists the named models, sorted, without *', () => {
    expect(gatedModels(rules)).toEqual(['llama-8b', 'qwen-14b']);
  });
});
