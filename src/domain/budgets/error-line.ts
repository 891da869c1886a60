import type { BudgetScopeMetrics } from '../metrics/metrics.js';

/**
 * One budget scope's closed day in words, for a person reading a run's output:
 * `tenant "acme", feature "chat": estimate $14.6920 -> exact $3.6730 (+300.0%)`, or
 * `... -> exact $0.0000 (no exact spend)` where the error is no figure. Names are quoted as JSON,
 * so a tenant with a quote or a control character in its name cannot forge another scope's line.
 */
export function budgetErrorLine(m: BudgetScopeMetrics): string {
  const who = [
    m.scope.tenant === undefined ? undefined : `tenant ${JSON.stringify(m.scope.tenant)}`,
    m.scope.feature === undefined ? undefined : `feature ${JSON.stringify(m.scope.feature)}`,
  ]
    .filter((w) => w !== undefined)
    .join(', ');
  const error =
    m.relativeError === null
      ? (m.reason ?? 'no figure')
      : `${m.relativeError >= 0 ? '+' : ''}${(m.relativeError * 100).toFixed(1)}%`;
  return `${who}: estimate ${usd(m.estimateUsd)} -> exact ${usd(m.exactUsd)} (${error})`;
}

// Four decimals: a demo's or a small scope's day is cents, and the line is read, not summed.
const usd = (n: number): string => `$${n.toFixed(4)}`;
