/**
 * An alert in the words its card shows: the title, each figure in its unit, the baseline named
 * for what it is (a median, an SLA, the previous days' shape), and the change. Alerts whose metric
 * or rule has no label (hand-made ones) still read, with their raw names and plain digits.
 */
import type { Alert } from './alert.js';
import { changeText, formatNumber as cardNumber, text } from './card-text.js';
import { formatChange } from './format.js';
import { formatIn, metricLabel, ruleLabel, type BaselineKind } from './labels.js';

export interface AlertWords {
  /** "Cost per 1k tokens up 150%", safe as card text. */
  readonly title: string;
  /** A figure of the alert's metric in its unit. */
  format(value: number): string;
  /** The baseline fact: title and value. */
  readonly baseline: [string, string];
  /** The change fact's value; none where the baseline is not a figure to divide by. */
  readonly change?: string;
  /** What today's figure is set against in a digest line: "median $0.143 per 1k tokens". */
  readonly against: string;
  contributor(value: number): string;
}

export function alertWords(alert: Alert): AlertWords {
  const metric = metricLabel(alert.metric);
  const rule = ruleLabel(alert.rule);
  const label = metric?.label ?? text(alert.metric, 80);
  const format = (value: number): string =>
    metric === undefined ? cardNumber(value) : formatIn(metric.unit, value);
  const kind: BaselineKind = rule?.baseline ?? 'median';
  const title = (rule?.title ?? defaultTitle)(label, changeWords(alert.value, alert.baseline));
  const contributor = rule?.contributor ?? cardNumber;
  switch (kind) {
    case 'sla':
      return {
        title,
        format,
        baseline: ['SLA', format(alert.baseline)],
        change: alert.baseline > 0 ? `${cardNumber(alert.value / alert.baseline)}× the SLA` : undefined,
        against: `the SLA of ${format(alert.baseline)}`,
        contributor,
      };
    case 'shape':
      return {
        title,
        format,
        baseline: ['Baseline', 'the shape of the previous days (PSI 0)'],
        against: 'the previous days',
        contributor,
      };
    case 'none':
      return {
        title,
        format,
        baseline: ['Baseline', 'no traffic on the previous days'],
        against: 'no traffic before',
        contributor,
      };
    case 'exact':
      return {
        title,
        format,
        baseline: ['Exact', `${format(alert.baseline)} (the daily report)`],
        change: changeText(alert.value, alert.baseline),
        against: `the report's exact ${format(alert.baseline)}`,
        contributor,
      };
    case 'median':
      return {
        title,
        format,
        baseline: ['Baseline', `${format(alert.baseline)} (median of previous days)`],
        change: changeText(alert.value, alert.baseline),
        against: `a median of ${format(alert.baseline)}`,
        contributor,
      };
  }
}

function defaultTitle(label: string, change: string): string {
  return `${label} ${change}`;
}

/** "up 150%", "down 30%", "up from 0", "unchanged". */
function changeWords(value: number, baseline: number): string {
  if (value === baseline) return 'unchanged';
  const way = value > baseline ? 'up' : 'down';
  return baseline === 0 ? `${way} from 0` : `${way} ${formatChange(value, baseline)}`;
}
