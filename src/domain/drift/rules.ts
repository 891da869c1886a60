/**
 * The drift rules file (contracts.md §9): which changes in the daily metrics raise an alert, at what
 * levels, over what volume, and the latency SLA of each request class. docs/drift.md explains
 * every field and the defaults; rules/drift-rules.json is the same content as
 * DEFAULT_DRIFT_RULES (a test holds them equal).
 */
import { z } from 'zod';
import { ConfigurationError } from '../errors.js';

/** A change that must be exceeded on both counts: relative (0.5 = +50%) and absolute (the rule's unit). */
export interface ChangeLevel {
  readonly relative: number;
  readonly absolute: number;
}

/** The smallest day worth judging: both figures must be reached. */
export interface Volume {
  readonly requests: number;
  readonly costUsd: number;
}

/** Today against the baseline: raise at `warning` or `critical`, keep an open alert until below `clear`. */
export interface ChangeRule {
  readonly enabled: boolean;
  /** Which way of moving is news: `up` (default for costs and errors), `down`, or `both`. */
  readonly direction: 'up' | 'down' | 'both';
  readonly warning: ChangeLevel;
  readonly critical: ChangeLevel;
  readonly clear: ChangeLevel;
  /** Volume needed today and on a typical baseline day (the median of the baseline days). */
  readonly minToday: Volume;
  readonly minBaseline: Volume;
}

/** Today's p95 against the request class's SLA, as a ratio p95 / SLA. */
export interface SlaRule {
  readonly enabled: boolean;
  readonly warning: { readonly ratio: number };
  readonly critical: { readonly ratio: number };
  readonly clear: { readonly ratio: number };
  readonly minToday: Volume;
}

/** The prompt-length histogram against the baseline's summed histogram, by population stability index. */
export interface ShiftRule {
  readonly enabled: boolean;
  readonly warning: { readonly psi: number };
  readonly critical: { readonly psi: number };
  readonly clear: { readonly psi: number };
  /** Requests counted in the histogram, today and in the baseline's sum. */
  readonly minSamples: number;
  readonly minToday: Volume;
  readonly minBaseline: Volume;
}

/** A fleet-wide share of events (rejected, unmetered) against the baseline. */
export interface DataQualityRule {
  readonly enabled: boolean;
  readonly warning: ChangeLevel;
  readonly critical: ChangeLevel;
  readonly clear: ChangeLevel;
  /** Events read, today and on a typical baseline day. */
  readonly minEvents: number;
}

/**
 * A group's arrival or departure: `newFeature` fires for a group with traffic today and none on any
 * day of the baseline window, once it reaches `minVolume` on the day; `featureGone` for a group
 * without traffic today that reached `minVolume` on a typical baseline day.
 */
export interface PresenceRule {
  readonly enabled: boolean;
  readonly minVolume: Volume;
}

/**
 * A deployment's fitted step costs (the metrics' `calibration`) against their median over the
 * window's days with fitted constants. Relative levels; a new alert also needs the change to be
 * `minStandardErrors` times the day's standard error.
 */
export interface StepCostRule {
  readonly enabled: boolean;
  readonly warning: { readonly relative: number };
  readonly critical: { readonly relative: number };
  readonly clear: { readonly relative: number };
  readonly minStandardErrors: number;
  /** Requests behind the fit, today and on each baseline day counted. */
  readonly minRequests: number;
}

/**
 * A budget scope's estimated spend on a closed day (what ingest added up, what budgets enforced
 * on) against the daily report's exact figure: relative levels of |estimate / exact - 1|, judged
 * only where the exact figure reaches `minExactUsd`.
 */
export interface BudgetEstimateRule {
  readonly enabled: boolean;
  readonly warning: { readonly relative: number };
  readonly critical: { readonly relative: number };
  readonly clear: { readonly relative: number };
  readonly minExactUsd: number;
}

export interface Sla {
  readonly p95LatencyMs: number;
  readonly p95TtftMs: number;
}

export interface DriftRules {
  /** Days before today that form the baseline (contracts.md §9: 28). */
  readonly baselineDays: number;
  /** Fewest days with a value before a baseline rule may fire. */
  readonly minBaselineDays: number;
  /** Use only the days of today's weekday when at least this many are in the window. */
  readonly sameWeekdayMinDays: number;
  /** SLA per request class; `*` applies to a class without its own entry. */
  readonly slas: Readonly<Record<string, Sla>>;
  readonly rules: {
    readonly costPer1kTokens: ChangeRule;
    readonly dailyCost: ChangeRule;
    readonly promptTokensPerRequest: ChangeRule;
    readonly completionTokensPerRequest: ChangeRule;
    readonly errorRate: ChangeRule;
    readonly p95LatencyRegression: ChangeRule;
    readonly p95TtftRegression: ChangeRule;
    readonly p95LatencySla: SlaRule;
    readonly p95TtftSla: SlaRule;
    readonly promptLengthShift: ShiftRule;
    readonly idleShare: ChangeRule;
    readonly rejectedShare: DataQualityRule;
    readonly unmeteredShare: DataQualityRule;
    readonly newFeature: PresenceRule;
    readonly featureGone: PresenceRule;
    readonly stepCostShift: StepCostRule;
    readonly budgetEstimateError: BudgetEstimateRule;
  };
}

export type GroupChangeRuleName =
  | 'costPer1kTokens'
  | 'dailyCost'
  | 'promptTokensPerRequest'
  | 'completionTokensPerRequest'
  | 'errorRate'
  | 'p95LatencyRegression'
  | 'p95TtftRegression';

const nonNegative = z.number().nonnegative({ error: 'must be a number >= 0' });
const positive = z.number().positive({ error: 'must be a number > 0' });
const count = z
  .number()
  .int({ error: 'must be an integer >= 1' })
  .min(1, { error: 'must be an integer >= 1' });

const changeLevel = z.strictObject({ relative: nonNegative, absolute: nonNegative });
const volume = z.strictObject({ requests: nonNegative, costUsd: nonNegative });

/** Raise levels ordered (warning <= critical) and the clear level at or below warning, field by field. */
function ordered<K extends string>(keys: readonly K[]) {
  return (
    rule: { warning: Record<K, number>; critical: Record<K, number>; clear: Record<K, number> },
    ctx: z.RefinementCtx,
  ): void => {
    for (const key of keys) {
      if (rule.critical[key] < rule.warning[key]) {
        ctx.addIssue({ code: 'custom', path: ['critical', key], message: `must be >= warning.${key}` });
      }
      if (rule.clear[key] > rule.warning[key]) {
        ctx.addIssue({ code: 'custom', path: ['clear', key], message: `must be <= warning.${key}` });
      }
    }
  };
}

const changeRule = z
  .strictObject({
    enabled: z.boolean(),
    direction: z.enum(['up', 'down', 'both']),
    warning: changeLevel,
    critical: changeLevel,
    clear: changeLevel,
    minToday: volume,
    minBaseline: volume,
  })
  .superRefine(ordered(['relative', 'absolute']));

const ratio = z.strictObject({ ratio: positive });
const slaRule = z
  .strictObject({ enabled: z.boolean(), warning: ratio, critical: ratio, clear: ratio, minToday: volume })
  .superRefine(ordered(['ratio']));

const psi = z.strictObject({ psi: positive });
const shiftRule = z
  .strictObject({
    enabled: z.boolean(),
    warning: psi,
    critical: psi,
    clear: psi,
    minSamples: count,
    minToday: volume,
    minBaseline: volume,
  })
  .superRefine(ordered(['psi']));

const dataQualityRule = z
  .strictObject({
    enabled: z.boolean(),
    warning: changeLevel,
    critical: changeLevel,
    clear: changeLevel,
    minEvents: nonNegative,
  })
  .superRefine(ordered(['relative', 'absolute']));

const presenceRule = z.strictObject({ enabled: z.boolean(), minVolume: volume });

const relative = z.strictObject({ relative: positive });
const stepCostRule = z
  .strictObject({
    enabled: z.boolean(),
    warning: relative,
    critical: relative,
    clear: relative,
    minStandardErrors: nonNegative,
    minRequests: nonNegative,
  })
  .superRefine(ordered(['relative']));

const budgetEstimateRule = z
  .strictObject({
    enabled: z.boolean(),
    warning: relative,
    critical: relative,
    clear: relative,
    minExactUsd: nonNegative,
  })
  .superRefine(ordered(['relative']));

const rulesSchema = z.strictObject({
  baselineDays: count.max(366, { error: 'must be at most 366' }),
  minBaselineDays: count,
  sameWeekdayMinDays: count,
  slas: z.record(z.string().min(1), z.strictObject({ p95LatencyMs: positive, p95TtftMs: positive })),
  rules: z.strictObject({
    costPer1kTokens: changeRule,
    dailyCost: changeRule,
    promptTokensPerRequest: changeRule,
    completionTokensPerRequest: changeRule,
    errorRate: changeRule,
    p95LatencyRegression: changeRule,
    p95TtftRegression: changeRule,
    p95LatencySla: slaRule,
    p95TtftSla: slaRule,
    promptLengthShift: shiftRule,
    idleShare: changeRule,
    rejectedShare: dataQualityRule,
    unmeteredShare: dataQualityRule,
    newFeature: presenceRule,
    featureGone: presenceRule,
    // Added after the others: a rules file written before it gets the default (see parseDriftRules).
    stepCostShift: stepCostRule.optional(),
    budgetEstimateError: budgetEstimateRule.optional(),
  }),
});

/**
 * Validates a rules file. Every field is required (the defaults are a whole file to copy), unknown
 * fields are refused so a misspelt threshold cannot be silently ignored, and errors name the
 * field: `drift rules: rules.errorRate.clear.relative: must be <= warning.relative`.
 */
export function parseDriftRules(json: unknown): DriftRules {
  const parsed = rulesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = [...(issue?.path ?? []), ...(issue?.code === 'unrecognized_keys' ? issue.keys : [])]
      .map(String)
      .join('.');
    throw new ConfigurationError(
      `drift rules: ${where === '' ? '' : `${where}: `}${issue?.message ?? 'invalid'}`,
    );
  }
  if (parsed.data.minBaselineDays > parsed.data.baselineDays) {
    throw new ConfigurationError('drift rules: minBaselineDays: must be <= baselineDays');
  }
  const {
    stepCostShift = DEFAULT_DRIFT_RULES.rules.stepCostShift,
    budgetEstimateError = DEFAULT_DRIFT_RULES.rules.budgetEstimateError,
    ...rest
  } = parsed.data.rules;
  return { ...parsed.data, rules: { ...rest, stepCostShift, budgetEstimateError } };
}

const volumeOf = (requests: number, costUsd: number): Volume => ({ requests, costUsd });

const change = (
  direction: ChangeRule['direction'],
  levels: readonly [ChangeLevel, ChangeLevel, ChangeLevel],
  min: Volume,
  today: Volume = min,
): ChangeRule => ({
  enabled: true,
  direction,
  warning: levels[0],
  critical: levels[1],
  clear: levels[2],
  minToday: today,
  minBaseline: min,
});

const level = (relative: number, absolute: number): ChangeLevel => ({ relative, absolute });

/**
 * Two kinds of gate. The money rules (cost per 1k tokens, daily cost) judge a group that spends $20
 * on a typical day of the window and has 200 requests on the day itself: below that a change is
 * cheap, whatever its size. Spend on the day is not asked for: a group's quiet weekend below $20
 * should not hide its incidents, and the absolute levels already say whether the day's change is
 * worth money.
 */
const GROUP_VOLUME = volumeOf(200, 20);
const GROUP_DAY = volumeOf(200, 0);
/**
 * The statistical rules (tokens per request, prompt-length shift, the p95s, the error rate) judge
 * a distribution, and whether its change is noise depends on how many requests it rests on, not
 * on what they cost: a $4.50-a-day feature whose 3,000 daily prompts triple is a real change. So
 * they are gated by requests alone, on the day and on a typical day. The mean of 1,000 prompt
 * lengths (log-normal, sigma 0.8) moves by 3% (one standard deviation) by chance, a tenth of the
 * +30% level; over 200 it moves by 7%, and with a longer tail by twice that.
 */
const SAMPLE_VOLUME = volumeOf(1000, 0);
/** A p95 from 500 requests rests on 25 of them; fewer make a regression out of a handful. */
const TAIL_VOLUME = volumeOf(500, 0);

/** The defaults; docs/drift.md gives the reason for each figure. */
export const DEFAULT_DRIFT_RULES: DriftRules = {
  baselineDays: 28,
  minBaselineDays: 3,
  sameWeekdayMinDays: 3,
  slas: {
    interactive: { p95LatencyMs: 30_000, p95TtftMs: 2_000 },
    batch: { p95LatencyMs: 600_000, p95TtftMs: 120_000 },
  },
  rules: {
    // Absolute levels are at most what a 1.5x change of a group at the minimum volume gives, so
    // such a change is never missed for being small in absolute terms (a test holds this). The
    // relative levels of the ratio rules are 0.3: a quiet day moves them by under 7% (p95s by one
    // bin, 19%), and a 1.5x change less the day's noise still clears 30%.
    costPer1kTokens: change('up', [level(0.3, 5), level(1, 25), level(0.15, 2.5)], GROUP_VOLUME, GROUP_DAY),
    dailyCost: change('up', [level(0.5, 10), level(1, 50), level(0.25, 5)], GROUP_VOLUME, GROUP_DAY),
    promptTokensPerRequest: change('up', [level(0.3, 50), level(1, 200), level(0.15, 25)], SAMPLE_VOLUME),
    completionTokensPerRequest: change('up', [level(0.3, 25), level(1, 100), level(0.15, 10)], SAMPLE_VOLUME),
    // The absolute levels count failed requests: 25 more than the baseline rate gives is five
    // standard deviations of a count of 25 or fewer, whatever the group's size.
    errorRate: change('up', [level(1, 25), level(3, 50), level(0.5, 10)], TAIL_VOLUME),
    p95LatencyRegression: change('up', [level(0.3, 2000), level(1, 10_000), level(0.15, 1000)], TAIL_VOLUME),
    p95TtftRegression: change('up', [level(0.3, 100), level(1, 1000), level(0.15, 50)], TAIL_VOLUME),
    p95LatencySla: {
      enabled: true,
      warning: { ratio: 1 },
      critical: { ratio: 1.5 },
      clear: { ratio: 0.9 },
      minToday: volumeOf(100, 0),
    },
    p95TtftSla: {
      enabled: true,
      warning: { ratio: 1 },
      critical: { ratio: 1.5 },
      clear: { ratio: 0.9 },
      minToday: volumeOf(100, 0),
    },
    promptLengthShift: {
      enabled: true,
      warning: { psi: 0.15 },
      critical: { psi: 0.5 },
      clear: { psi: 0.1 },
      minSamples: 1000,
      minToday: SAMPLE_VOLUME,
      minBaseline: SAMPLE_VOLUME,
    },
    idleShare: change('up', [level(0.25, 0.15), level(1, 0.3), level(0.125, 0.075)], volumeOf(0, 50)),
    // A tenth of a point of the events read, from 25,000 events: at least 25 events.
    rejectedShare: {
      enabled: true,
      warning: level(1, 0.001),
      critical: level(3, 0.05),
      clear: level(0.5, 0.0005),
      minEvents: 25_000,
    },
    unmeteredShare: {
      enabled: true,
      warning: level(1, 0.001),
      critical: level(3, 0.05),
      clear: level(0.5, 0.0005),
      minEvents: 25_000,
    },
    newFeature: { enabled: true, minVolume: GROUP_VOLUME },
    featureGone: { enabled: true, minVolume: GROUP_VOLUME },
    // The same engine fitted on other days moves its constants by a few percent (docs/drift.md);
    // a vLLM upgrade that changes a cost by a fifth moves features' shares by about as much.
    stepCostShift: {
      enabled: true,
      warning: { relative: 0.2 },
      critical: { relative: 0.5 },
      clear: { relative: 0.1 },
      minStandardErrors: 4,
      minRequests: 500,
    },
    // The estimate counts a request's held time shared evenly among the pod's requests, the report
    // splits it by prefill and decode work: a scope's day differs by a few percent to a tenth.
    // A quarter off means budgets refuse or let through a quarter early or late; half off, twice.
    budgetEstimateError: {
      enabled: true,
      warning: { relative: 0.25 },
      critical: { relative: 0.5 },
      clear: { relative: 0.15 },
      minExactUsd: 1,
    },
  },
};
