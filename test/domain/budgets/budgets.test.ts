import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  covers,
  parseBudgets,
  type Budget,
  parseBudgetsText,
  scopeKey,
} from '../../../src/domain/budgets/budgets.js';
import { periodAt, secondsToEnd } from '../../../src/domain/budgets/periods.js';
import { decide, parseBudgetState, stateEntry } from '../../../src/domain/budgets/state.js';

const one = (over: Record<string, unknown> = {}): unknown => ({
  budgets: [{ scope: { tenant: 'a' }, period: 'day', limit: { usd: 10 }, policy: 'refuse', ...over }],
});

describe('budgets file', () => {
  it('reads the shipped example', () => {
    const file = parseBudgetsText(readFileSync('rules/budgets.json', 'utf8'));
    expect(file.budgets.map((b) => b.policy)).toEqual(['refuse', 'demote', 'alert']);
    expect(file.budgets[1]?.limit).toEqual({ gpuHours: 12 });
  });

  it.each([
    [{ extra: 1 }, 'budgets file: budgets.0: unknown field "extra"'],
    [{ period: 'week' }, 'budgets file: budgets.0.period: must be day or month'],
    [{ policy: 'block' }, 'budgets file: budgets.0.policy: must be refuse, demote or alert'],
    [{ limit: { usd: -1 } }, 'budgets file: budgets.0.limit'],
    [{ limit: { usd: 1, gpuHours: 2 } }, 'budgets file: budgets.0.limit'],
    [{ scope: {} }, 'budgets file: budgets.0.scope: must name a tenant, a feature, or both'],
    [{ scope: { tenant: 'a\u0000b' } }, 'budgets file: budgets.0.scope.tenant: must not contain U+0000'],
    [{ scope: { tenant: 'a\u202eb' } }, 'budgets file: budgets.0.scope.tenant: must not contain U+202E'],
    [{ scope: { tenant: 7 } }, 'budgets file: budgets.0.scope.tenant: must be a string'],
    [{ scope: { tenant: 'a', team: 'x' } }, 'budgets file: budgets.0.scope: unknown field "team"'],
    [{ thresholds: [1, 0.8] }, 'budgets file: budgets.0.thresholds: must be strictly ascending'],
    [{ thresholds: ['0.8'] }, 'budgets file: budgets.0.thresholds.0: must be a number'],
  ])('refuses %j naming the field', (over, message) => {
    expect(() => parseBudgets(one(over))).toThrow(message);
  });

  it('refuses two budgets on one scope and period, and bad JSON', () => {
    const b = { scope: { tenant: 'a' }, period: 'day', limit: { usd: 1 }, policy: 'alert' };
    expect(() => parseBudgets({ budgets: [b, { ...b, policy: 'refuse' }] })).toThrow(
      'budgets file: budgets.1.scope: the same scope and period as budgets.0',
    );
    expect(parseBudgets({ budgets: [b, { ...b, period: 'month' }] }).budgets).toHaveLength(2);
    expect(() => parseBudgetsText('{"budgets": [')).toThrow('budgets file: not valid JSON');
    expect(() => parseBudgets({ budgets: [], more: 1 })).toThrow('budgets file: ');
  });

  it('keys scopes so that no hostile name stands for another scope', () => {
    const names = ['tenant|x', 'tenant', 'x', 'a"b', 'école', 'e\u0301cole', '["a",null]'];
    const keys = new Set<string>();
    for (const t of names) keys.add(scopeKey({ tenant: t }));
    for (const t of names) keys.add(scopeKey({ tenant: 'tenant', feature: t }));
    expect(keys.size).toBe(names.length * 2);
    expect(scopeKey({ tenant: 'tenant|x' })).not.toBe(scopeKey({ tenant: 'tenant', feature: 'x' }));
    // NFC: the decomposed spelling is the same tenant as the precomposed one, as everywhere else.
    const file = parseBudgets(one({ scope: { tenant: 'e\u0301cole' } }));
    expect(file.budgets[0]?.scope.tenant).toBe('école');
    expect(covers({ tenant: 'tenant|x' }, 'tenant', 'x')).toBe(false);
    expect(covers({ tenant: 'tenant', feature: 'x' }, 'tenant', 'x')).toBe(true);
    expect(covers({ feature: 'x' }, 'anyone', 'x')).toBe(true);
  });
});

describe('periods', () => {
  it('cuts days and months in UTC', () => {
    const t = Date.parse('2026-12-31T23:59:59.500Z');
    expect(periodAt('day', t)).toEqual({
      name: '2026-12-31',
      startMs: Date.parse('2026-12-31T00:00:00Z'),
      endMs: Date.parse('2027-01-01T00:00:00Z'),
    });
    expect(periodAt('month', t).name).toBe('2026-12');
    expect(periodAt('month', Date.parse('2028-02-10T00:00:00Z')).endMs).toBe(
      Date.parse('2028-03-01T00:00:00Z'),
    );
    expect(secondsToEnd(periodAt('day', t).endMs, t)).toBe(1);
    expect(secondsToEnd(Date.parse('2026-12-08T00:00:00Z'), Date.parse('2026-12-07T23:00:00Z'))).toBe(3600);
  });
});

describe('state and decision', () => {
  const budgets = parseBudgets({
    budgets: [
      { scope: { tenant: 'a' }, period: 'day', limit: { usd: 10 }, policy: 'demote', thresholds: [0.8, 1] },
      { scope: { tenant: 'a', feature: 'chat' }, period: 'day', limit: { usd: 5 }, policy: 'refuse' },
      { scope: { tenant: 'b' }, period: 'month', limit: { gpuHours: 1 }, policy: 'refuse' },
    ],
  }).budgets;
  const now = Date.parse('2026-12-07T12:00:00Z');
  const nth = (i: number): Budget => {
    const b = budgets[i];
    if (b === undefined) throw new Error(`no budget ${i}`);
    return b;
  };

  it('refuses with the body of contracts.md §14, strictest policy first, and resets at the boundary', () => {
    const entries = [
      stateEntry(nth(0), { nanos: 12e9, gpuMicros: 0 }, now),
      stateEntry(nth(1), { nanos: 6e9, gpuMicros: 0 }, now),
      stateEntry(nth(2), { nanos: 1e9, gpuMicros: 1_800_000_000 }, now),
    ];
    expect(entries[0]?.crossed).toEqual([0.8, 1]);
    const refused = decide(entries, 'a', 'chat', now);
    expect(refused.action).toBe('refuse');
    if (refused.action !== 'refuse') return;
    expect(refused.refusal.retryAfterSeconds).toBe(12 * 3600);
    expect(refused.refusal.body).toEqual({
      error: {
        type: 'budget_exceeded',
        message: 'the day budget of this scope is spent; it resets at 2026-12-08T00:00:00.000Z',
        scope: { tenant: 'a', feature: 'chat' },
        period: 'day',
        limitUsd: 5,
        spentUsd: 6,
        resetsAt: '2026-12-08T00:00:00.000Z',
      },
    });
    expect(decide(entries, 'a', 'mail', now).action).toBe('demote');
    expect(decide(entries, 'b', 'chat', now).action).toBe('serve'); // half an hour of one
    expect(decide(entries, 'c', 'chat', now).action).toBe('serve');
    expect(decide(entries, 'a', 'chat', Date.parse('2026-12-08T00:00:00Z')).action).toBe('serve');
  });

  it('round-trips a state document and refuses a broken one naming the field', () => {
    const doc = {
      version: 1,
      generatedAt: new Date(now).toISOString(),
      entries: [stateEntry(nth(2), { nanos: 0, gpuMicros: 4e9 }, now)],
    };
    const back = parseBudgetState(JSON.stringify(doc));
    expect(back.entries[0]?.over).toBe(true);
    expect(back.entries[0]?.limitUsd).toBeNull();
    expect(() => parseBudgetState('{')).toThrow('budget state: not valid JSON');
    expect(() =>
      parseBudgetState(JSON.stringify({ ...doc, entries: [{ ...doc.entries[0], over: 'yes' }] })),
    ).toThrow('budget state: entries.0.over');
  });
});
