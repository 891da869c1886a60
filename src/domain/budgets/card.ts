import { text } from '../drift/card-text.js';
import { factSet, fit, paragraph, title, type MessageContext, type TeamsMessage } from '../teams/message.js';
import type { BudgetStateEntry } from './state.js';

/** The scope in words: `tenant contoso, feature chat` (names made safe for a card). */
export function scopeWords(scope: BudgetStateEntry['scope']): string {
  const parts: string[] = [];
  if (scope.tenant !== undefined) parts.push(`tenant ${text(scope.tenant, 128)}`);
  if (scope.feature !== undefined) parts.push(`feature ${text(scope.feature, 128)}`);
  return parts.join(', ');
}

const percent = (n: number): string => `${Math.round(n * 100)}%`;

/** The card posted once when a budget's spend reaches one of its thresholds in a period. */
export function budgetCard(
  e: BudgetStateEntry,
  threshold: number,
  context: MessageContext = {},
): TeamsMessage {
  const over = threshold >= 1;
  const limit =
    e.limitUsd !== null ? `$${e.limitUsd.toFixed(2)}` : `${String(e.limitGpuHours ?? 0)} GPU-hours`;
  const spent = e.limitUsd !== null ? `$${e.spentUsd.toFixed(2)}` : `${e.spentGpuHours.toFixed(3)} GPU-hours`;
  const then =
    e.policy === 'refuse'
      ? 'its requests are refused (HTTP 429) until the period resets'
      : e.policy === 'demote'
        ? 'its requests are served as batch, behind interactive traffic, until the period resets'
        : 'its requests are still served (policy alert)';
  const head = [
    title(
      `Budget ${percent(threshold)} reached: ${scopeWords(e.scope)}`,
      context,
      over ? 'critical' : 'warning',
      text,
    ),
    paragraph(
      over
        ? `The ${e.period} budget is spent: ${then}.`
        : `The ${e.period} budget has passed ${percent(threshold)} of its limit; at 100% ${then}.`,
    ),
    factSet([
      ['Period', `${e.periodName} (UTC)`],
      ['Spent (estimate)', `${spent} of ${limit} (${percent(e.fraction)})`],
      ['Policy', e.policy],
      ['Resets at', e.resetsAt],
    ]),
  ];
  return fit(head, [], context);
}
