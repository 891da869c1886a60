/**
 * The words a person reads for each metric and rule: an alert's `metric` and `rule` are names for
 * programs (contracts.md §9 fixes them), a card's title and facts are for whoever is woken at 3 a.m. Every
 * metric a rule can raise is a key of METRIC_LABELS (the rules type their metric as DriftMetric,
 * so a new one does not compile without its label), and every rule is a key of RULE_LABELS.
 */
import type { Alert } from './alert.js';
import { formatMs, formatNumber, formatShare, formatUsd } from './format.js';
import type { DriftRules } from './rules.js';

export type MetricUnit =
  | 'usd'
  | 'usdPer1kTokens'
  | 'tokens'
  | 'share'
  | 'ms'
  | 'msPerStep'
  | 'msPerPromptToken'
  | 'msPerGeneratedToken'
  | 'psi'
  | 'requests';

export interface MetricLabel {
  /** Lower-case words, as they read inside a sentence: "cost per 1k tokens". */
  readonly label: string;
  readonly unit: MetricUnit;
}

export const METRIC_LABELS = {
  costPer1kTokensUsd: { label: 'cost per 1k tokens', unit: 'usdPer1kTokens' },
  costUsd: { label: 'daily cost', unit: 'usd' },
  promptTokensPerRequest: { label: 'prompt tokens per request', unit: 'tokens' },
  completionTokensPerRequest: { label: 'completion tokens per request', unit: 'tokens' },
  errorRate: { label: 'error rate', unit: 'share' },
  p95LatencyMs: { label: 'p95 latency', unit: 'ms' },
  p95TtftMs: { label: 'p95 time to first token', unit: 'ms' },
  promptTokensPsi: { label: 'prompt-length shift (PSI)', unit: 'psi' },
  idleShare: { label: 'idle GPU share', unit: 'share' },
  rejectedShare: { label: 'rejected events', unit: 'share' },
  unmeteredShare: { label: 'unmetered requests', unit: 'share' },
  requests: { label: 'requests a day', unit: 'requests' },
  fixedStepMs: { label: 'fitted fixed step time', unit: 'msPerStep' },
  prefillMsPerToken: { label: 'fitted prefill cost', unit: 'msPerPromptToken' },
  decodeMsPerToken: { label: 'fitted decode cost', unit: 'msPerGeneratedToken' },
  budgetEstimateUsd: { label: 'estimated budget spend', unit: 'usd' },
} as const satisfies Record<string, MetricLabel>;

/** Every metric an alert can carry. */
export type DriftMetric = keyof typeof METRIC_LABELS;

export type RuleName = keyof DriftRules['rules'];

/** An alert as the rules raise it: its metric and rule have labels (the compiler holds this). */
export type DriftAlert = Alert & { readonly metric: DriftMetric; readonly rule: RuleName };

/**
 * What a rule compares with, which decides how a card names the alert's `baseline`:
 * `median` (the median of the baseline days), `sla` (the request class's SLA), `shape` (the
 * baseline days' histogram, `baseline` 0 by definition), `none` (no traffic before: a new
 * feature), `exact` (the daily report's exact figure for the same day).
 */
export type BaselineKind = 'median' | 'sla' | 'shape' | 'none' | 'exact';

export interface RuleLabel {
  /** What the rule watches, in words: a resolved alert's line names it. */
  readonly name: string;
  readonly baseline: BaselineKind;
  /** The card's title after the severity, given the change in words ("up 150%"). */
  title(label: string, change: string): string;
  /** How a contributor's value reads; plain digits when absent. */
  readonly contributor?: (value: number) => string;
}

const moved = (label: string, change: string): string => `${capitalise(label)} ${change}`;

export const RULE_LABELS: Readonly<Record<RuleName, RuleLabel>> = {
  costPer1kTokens: { name: 'cost per 1k tokens', baseline: 'median', title: moved },
  dailyCost: { name: 'daily cost', baseline: 'median', title: moved },
  promptTokensPerRequest: { name: 'prompt tokens per request', baseline: 'median', title: moved },
  completionTokensPerRequest: { name: 'completion tokens per request', baseline: 'median', title: moved },
  errorRate: { name: 'error rate', baseline: 'median', title: moved },
  p95LatencyRegression: { name: 'p95 latency', baseline: 'median', title: moved },
  p95TtftRegression: { name: 'p95 time to first token', baseline: 'median', title: moved },
  p95LatencySla: {
    name: 'p95 latency against the SLA',
    baseline: 'sla',
    title: (label) => `${capitalise(label)} over the SLA`,
  },
  p95TtftSla: {
    name: 'p95 time to first token against the SLA',
    baseline: 'sla',
    title: (label) => `${capitalise(label)} over the SLA`,
  },
  promptLengthShift: { name: 'prompt lengths', baseline: 'shape', title: () => 'Prompt lengths shifted' },
  idleShare: {
    name: 'idle GPU share',
    baseline: 'median',
    title: moved,
    // The pods' idle GPU-seconds (fleet-rules.ts), in the hours the message speaks of.
    contributor: (seconds) => `${formatNumber(seconds / 3600)} idle GPU-hours`,
  },
  rejectedShare: { name: 'rejected events', baseline: 'median', title: moved },
  unmeteredShare: { name: 'unmetered requests', baseline: 'median', title: moved },
  newFeature: { name: 'new feature', baseline: 'none', title: () => 'New feature spending' },
  featureGone: { name: 'feature gone', baseline: 'median', title: () => 'Feature stopped sending requests' },
  stepCostShift: { name: 'fitted step costs', baseline: 'median', title: moved },
  budgetEstimateError: {
    name: 'budget estimate against the report',
    baseline: 'exact',
    title: (label, change) => `${capitalise(label)} ${change} on the report's`,
  },
};

/** "Daily cost", but "p95 latency": a name like p95 keeps its case. */
export function capitalise(words: string): string {
  return /^[a-z]{2}/.test(words) ? `${words.charAt(0).toUpperCase()}${words.slice(1)}` : words;
}

export function metricLabel(metric: string): MetricLabel | undefined {
  return Object.hasOwn(METRIC_LABELS, metric) ? METRIC_LABELS[metric as DriftMetric] : undefined;
}

export function ruleLabel(rule: string): RuleLabel | undefined {
  return Object.hasOwn(RULE_LABELS, rule) ? RULE_LABELS[rule as RuleName] : undefined;
}

/**
 * A resolved alert's id in words, "Cost per 1k tokens · acme / chat / llama-3-8b / interactive",
 * read back from alertId's layout (the rule, then the scope's values, escaped, joined by `:`);
 * undefined for an id of no known rule, or one cut and hashed for its length.
 */
export function resolvedWords(id: string): { readonly rule: string; readonly scope: string } | undefined {
  if (id.includes('~')) return undefined;
  const [rule = '', ...scope] = id.split(':');
  const label = ruleLabel(rule);
  if (label === undefined) return undefined;
  try {
    const values = scope.map(decodeURIComponent);
    return { rule: capitalise(label.name), scope: values.length > 0 ? values.join(' / ') : 'whole fleet' };
  } catch {
    return undefined;
  }
}

/** A figure in its metric's unit: "$0.357 per 1k tokens", "1,874 tokens", "4.2%", "2,896 ms". */
export function formatIn(unit: MetricUnit, value: number): string {
  switch (unit) {
    case 'usd':
      return formatUsd(value);
    case 'usdPer1kTokens':
      return `${formatUsd(value)} per 1k tokens`;
    case 'tokens':
      return `${formatNumber(value)} tokens`;
    case 'share':
      return formatShare(value);
    case 'ms':
      return formatMs(value);
    case 'msPerStep':
      return `${formatNumber(value)} ms per step`;
    case 'msPerPromptToken':
      return `${formatNumber(value)} ms per prompt token`;
    case 'msPerGeneratedToken':
      return `${formatNumber(value)} ms per generated token`;
    case 'psi':
      return `PSI ${formatNumber(value)}`;
    case 'requests':
      return `${formatNumber(value)} requests`;
  }
}
