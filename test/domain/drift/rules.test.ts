import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/domain/errors.js';
import { DEFAULT_DRIFT_RULES, parseDriftRules, type DriftRules } from '../../../src/domain/drift/rules.js';
import { mutableRules, type Mutable } from './fixture.js';

const file = (): unknown => JSON.parse(readFileSync('rules/drift-rules.json', 'utf8'));

/** The defaults with one change applied to a deep copy. */
function edited(change: (rules: Mutable<DriftRules>) => void): unknown {
  const copy = mutableRules();
  change(copy);
  return copy;
}

function reasonOf(json: unknown): string {
  try {
    parseDriftRules(json);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('parseDriftRules accepted it');
}

describe('the drift rules file', () => {
  it('ships rules/drift-rules.json with exactly the defaults', () => {
    expect(file()).toEqual(DEFAULT_DRIFT_RULES);
  });

  it('accepts the shipped file as it is', () => {
    expect(parseDriftRules(file())).toEqual(DEFAULT_DRIFT_RULES);
  });

  it('refuses an unknown field, naming it', () => {
    expect(reasonOf(edited((r) => Object.assign(r.rules.errorRate, { warn: 1 })))).toMatch(
      /rules\.errorRate\.warn/,
    );
    expect(reasonOf(edited((r) => Object.assign(r, { baselinedays: 7 })))).toMatch(/baselinedays/);
  });

  it('refuses a negative threshold, naming the field', () => {
    const reason = reasonOf(edited((r) => (r.rules.dailyCost.warning.absolute = -1)));
    expect(reason).toBe('drift rules: rules.dailyCost.warning.absolute: must be a number >= 0');
  });

  it('refuses a clear level above the raise level, naming the field', () => {
    const reason = reasonOf(edited((r) => (r.rules.costPer1kTokens.clear.relative = 0.6)));
    expect(reason).toBe('drift rules: rules.costPer1kTokens.clear.relative: must be <= warning.relative');
  });

  it('refuses a clear level above the raise level on ratio and PSI rules too', () => {
    expect(reasonOf(edited((r) => (r.rules.p95TtftSla.clear.ratio = 1.2)))).toMatch(
      /p95TtftSla\.clear\.ratio/,
    );
    expect(reasonOf(edited((r) => (r.rules.promptLengthShift.clear.psi = 0.3)))).toMatch(
      /promptLengthShift\.clear\.psi/,
    );
  });

  it('refuses a critical level below the warning level', () => {
    const reason = reasonOf(edited((r) => (r.rules.errorRate.critical.relative = 0.5)));
    expect(reason).toMatch(/rules\.errorRate\.critical\.relative: must be >= warning\.relative/);
  });

  it('refuses a missing rule, a bad direction and a zero-day baseline', () => {
    expect(reasonOf(edited((r) => Reflect.deleteProperty(r.rules, 'idleShare')))).toMatch(/rules\.idleShare/);
    expect(reasonOf(edited((r) => Object.assign(r.rules.dailyCost, { direction: 'sideways' })))).toMatch(
      /rules\.dailyCost\.direction/,
    );
    expect(reasonOf(edited((r) => (r.baselineDays = 0)))).toMatch(/baselineDays/);
  });

  it('refuses more baseline days required than the window holds', () => {
    expect(reasonOf(edited((r) => (r.minBaselineDays = 40)))).toMatch(
      /minBaselineDays: must be <= baselineDays/,
    );
  });

  it('refuses an SLA of zero', () => {
    expect(reasonOf(edited((r) => (r.slas.interactive = { p95LatencyMs: 30_000, p95TtftMs: 0 })))).toMatch(
      /slas\.interactive\.p95TtftMs/,
    );
  });

  it('refuses something that is not an object at all', () => {
    expect(reasonOf(null)).toMatch(/^drift rules: /);
  });
});
