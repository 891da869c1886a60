import { describe, expect, it } from 'vitest';
import { judgeChange, judgeLevel, levelText } from '../../../src/domain/drift/change.js';
import type { ChangeRule } from '../../../src/domain/drift/rules.js';

const rule: Pick<ChangeRule, 'direction' | 'warning' | 'critical' | 'clear'> = {
  direction: 'up',
  warning: { relative: 0.5, absolute: 10 },
  critical: { relative: 1, absolute: 50 },
  clear: { relative: 0.25, absolute: 5 },
};
const judge = (value: number, baseline: number, open = false, scale = 1) =>
  judgeChange({ value, baseline, scale, open }, rule);

describe('a change against its baseline', () => {
  it('raises a warning when both the relative and the absolute change reach the level', () => {
    expect(judge(150, 100)).toEqual({ severity: 'warning', direction: 'up', threshold: 150, held: false });
  });

  it('is not news when only the relative change is large: a small figure that doubles', () => {
    expect(judge(0.8, 0.4)).toBeUndefined();
  });

  it('is not news when only the absolute change is large: a large figure that moves a little', () => {
    expect(judge(10_040, 10_000)).toBeUndefined();
  });

  it('is critical at the critical level, with that level as the threshold', () => {
    expect(judge(200, 100)).toEqual({ severity: 'critical', direction: 'up', threshold: 200, held: false });
  });

  it('gives the threshold the larger of the two levels, in the figure unit', () => {
    // +50% of 4 is 6, but the absolute level asks for +10.
    expect(judge(30, 4)?.threshold).toBe(14);
  });

  it('converts the change with the scale before the absolute level', () => {
    // A rate up 60%; at 20 units of volume the change is worth 12, over the absolute level of 10.
    expect(judge(1.6, 1, false, 20)?.severity).toBe('warning');
    expect(judge(1.6, 1, false, 10)).toBeUndefined();
  });

  it('keeps an open alert while the change stays above the clear level, and lets it go below', () => {
    expect(judge(130, 100)).toBeUndefined();
    expect(judge(130, 100, true)).toEqual({
      severity: 'warning',
      direction: 'up',
      threshold: 125,
      held: true,
    });
    expect(judge(120, 100, true)).toBeUndefined();
  });

  it('judges a zero baseline on the absolute change alone, with no division by zero', () => {
    expect(judge(60, 0)).toEqual({ severity: 'critical', direction: 'up', threshold: 50, held: false });
    expect(judge(5, 0)).toBeUndefined();
  });

  it('does not look at falls unless asked to, and then judges them the same way', () => {
    expect(judge(40, 100)).toBeUndefined();
    const both = judgeChange(
      { value: 40, baseline: 100, scale: 1, open: false },
      { ...rule, direction: 'both' },
    );
    expect(both).toEqual({ severity: 'warning', direction: 'down', threshold: 50, held: false });
  });

  it('refuses figures that are not finite and a scale that is not positive', () => {
    expect(judge(Number.NaN, 1)).toBeUndefined();
    expect(judge(100, Infinity)).toBeUndefined();
    expect(judge(200, 100, false, 0)).toBeUndefined();
  });
});

describe('the level in a message', () => {
  it('names the raise level, or the clear level an open alert is held by, in the direction of the move', () => {
    expect(levelText({ severity: 'critical', held: false }, '$2')).toBe('critical at $2');
    expect(levelText({ severity: 'warning', held: true, direction: 'up' }, '$2')).toBe('open until below $2');
    expect(levelText({ severity: 'warning', held: true, direction: 'down' }, '$2')).toBe(
      'open until above $2',
    );
  });
});

describe('a figure against fixed levels', () => {
  const levels = { warning: 1, critical: 1.5, clear: 0.9 };

  it('raises at the warning and critical levels', () => {
    expect(judgeLevel(1, levels, false)).toEqual({ severity: 'warning', level: 1, held: false });
    expect(judgeLevel(1.6, levels, false)).toEqual({ severity: 'critical', level: 1.5, held: false });
    expect(judgeLevel(0.95, levels, false)).toBeUndefined();
  });

  it('keeps an open alert down to the clear level', () => {
    expect(judgeLevel(0.95, levels, true)).toEqual({ severity: 'warning', level: 0.9, held: true });
    expect(judgeLevel(0.85, levels, true)).toBeUndefined();
  });
});
