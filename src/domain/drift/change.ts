/**
 * Judging a change of one figure against its baseline, with hysteresis. A level is exceeded only
 * when the relative change AND the absolute change both reach it: a small figure that doubles is
 * not news, and a large one that moves by a rounding error is not either. An alert that is already
 * open stays open (as a warning) until the change falls below the lower `clear` level, so a
 * figure that hovers at the threshold does not raise and resolve on alternate days.
 */
import type { Severity } from './alert.js';
import type { ChangeLevel, ChangeRule } from './rules.js';

export interface ChangeInput {
  readonly value: number;
  readonly baseline: number;
  /**
   * Converts a change of the figure into the unit of the absolute thresholds (1 for most rules;
   * for cost per 1k tokens, today's thousands of tokens, so the absolute threshold is money).
   */
  readonly scale: number;
  readonly open: boolean;
}

export interface ChangeVerdict {
  readonly severity: Severity;
  readonly direction: 'up' | 'down';
  /** The figure's value at the level that holds the alert: raise level, or clear level when held open. */
  readonly threshold: number;
  /** True when only the clear level holds it: an open alert kept open, not one that would be raised. */
  readonly held: boolean;
}

type Levels = Pick<ChangeRule, 'direction' | 'warning' | 'critical' | 'clear'>;

export function judgeChange(input: ChangeInput, rule: Levels): ChangeVerdict | undefined {
  const { value, baseline, scale } = input;
  if (![value, baseline, scale].every(Number.isFinite) || scale <= 0) return undefined;
  const directions: ('up' | 'down')[] = rule.direction === 'both' ? ['up', 'down'] : [rule.direction];
  const verdicts = directions.map((direction) => judgeOneWay(input, rule, direction));
  return verdicts.find((v) => v?.severity === 'critical') ?? verdicts.find((v) => v !== undefined);
}

function judgeOneWay(input: ChangeInput, rule: Levels, direction: 'up' | 'down'): ChangeVerdict | undefined {
  const sign = direction === 'up' ? 1 : -1;
  const delta = sign * (input.value - input.baseline);
  if (!(delta > 0)) return undefined;
  // With a zero baseline any rise is an infinite relative change: only the absolute level decides.
  const relative = input.baseline > 0 ? delta / input.baseline : Infinity;
  const absolute = delta * input.scale;
  const reaches = (level: ChangeLevel): boolean => relative >= level.relative && absolute >= level.absolute;
  const at = (level: ChangeLevel): number =>
    input.baseline + sign * Math.max(input.baseline * level.relative, level.absolute / input.scale);
  if (reaches(rule.critical))
    return { severity: 'critical', direction, threshold: at(rule.critical), held: false };
  if (reaches(rule.warning))
    return { severity: 'warning', direction, threshold: at(rule.warning), held: false };
  if (input.open && reaches(rule.clear)) {
    return { severity: 'warning', direction, threshold: at(rule.clear), held: true };
  }
  return undefined;
}

/** The same hysteresis for a figure judged on its own (an SLA ratio, a divergence). */
export function judgeLevel(
  value: number,
  levels: { readonly warning: number; readonly critical: number; readonly clear: number },
  open: boolean,
): { readonly severity: Severity; readonly level: number; readonly held: boolean } | undefined {
  if (!Number.isFinite(value)) return undefined;
  if (value >= levels.critical) return { severity: 'critical', level: levels.critical, held: false };
  if (value >= levels.warning) return { severity: 'warning', level: levels.warning, held: false };
  if (open && value >= levels.clear) return { severity: 'warning', level: levels.clear, held: true };
  return undefined;
}

/** How a message names the level: "critical at $0.286", or "open until below $0.125" when held. */
export function levelText(
  verdict: { readonly severity: Severity; readonly held: boolean; readonly direction?: 'up' | 'down' },
  level: string,
): string {
  if (!verdict.held) return `${verdict.severity} at ${level}`;
  return `open until ${verdict.direction === 'down' ? 'above' : 'below'} ${level}`;
}
