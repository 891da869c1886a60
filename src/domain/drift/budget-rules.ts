/**
 * The budget estimate's error (docs/budgets.md): on each closed day, every budget scope's
 * estimated spend (what ingest added up from the events' own timings, what the budgets enforced
 * on) against the daily report's exact figure for the same scope and day, as the day's metrics
 * file holds them (`budgets`, contracts.md §8). A scope whose estimate is off by more than the
 * rule's level means its budgets refuse or demote too early or too late. No baseline: the day is
 * judged against its own exact figure, so an alert needs no history.
 */
import type { BudgetScopeMetrics } from '../metrics/metrics.js';
import { alertId } from './alert-id.js';
import type { DetectContext } from './context.js';
import { formatChange, formatUsd } from './format.js';
import type { DriftAlert } from './labels.js';

/**
 * The relative error |estimate / exact - 1| of each scope of the day whose exact figure reaches
 * the rule's `minExactUsd`, as an alert at the warning or critical level; an alert open before
 * (`open`) is kept at warning down to the clear level. A scope without exact spend (relativeError
 * null) is never judged: the ratio is no figure, whatever the estimate.
 */
export function budgetEstimateAlerts(ctx: Pick<DetectContext, 'today' | 'rules' | 'open'>): DriftAlert[] {
  const rule = ctx.rules.rules.budgetEstimateError;
  if (!rule.enabled) return [];
  const alerts: DriftAlert[] = [];
  for (const d of ctx.today.budgets ?? []) {
    if (!judged(d) || d.exactUsd < rule.minExactUsd) continue;
    const error = Math.abs(d.estimateUsd / d.exactUsd - 1);
    const id = alertId('budgetEstimateError', [d.scope.tenant ?? '*', d.scope.feature ?? '*']);
    const critical = error >= rule.critical.relative;
    const held = ctx.open.has(id) && error >= rule.clear.relative;
    if (!critical && error < rule.warning.relative && !held) continue;
    const level = critical
      ? rule.critical.relative
      : error >= rule.warning.relative
        ? rule.warning.relative
        : rule.clear.relative;
    const way = d.estimateUsd > d.exactUsd ? 'high' : 'low';
    // In dollars, as a card shows it: the estimate at which the level is reached on this side.
    const threshold = d.exactUsd * (way === 'high' ? 1 + level : 1 - level);
    const who = [
      d.scope.tenant === undefined ? undefined : `tenant ${JSON.stringify(d.scope.tenant)}`,
      d.scope.feature === undefined ? undefined : `feature ${JSON.stringify(d.scope.feature)}`,
    ]
      .filter((w) => w !== undefined)
      .join(', ');
    alerts.push({
      id,
      rule: 'budgetEstimateError',
      severity: critical ? 'critical' : 'warning',
      scope: {
        ...(d.scope.tenant === undefined ? {} : { tenant: d.scope.tenant }),
        ...(d.scope.feature === undefined ? {} : { feature: d.scope.feature }),
      },
      metric: 'budgetEstimateUsd',
      value: d.estimateUsd,
      baseline: d.exactUsd,
      threshold,
      message:
        `Budgets for ${who} enforced on an estimate of ${formatUsd(d.estimateUsd)} for a day the report ` +
        `puts at ${formatUsd(d.exactUsd)} (${formatChange(d.estimateUsd, d.exactUsd)} ${way}; the level ` +
        `is ${Math.round(level * 100)}%). Its closed days now count exact, but today's figure is ` +
        `still the estimate: check the sidecars' meanConcurrency attribute and the price card, and ` +
        `loosen or tighten the scope's limit until the estimate is right (docs/budgets.md).`,
    });
  }
  return alerts;
}

function judged(d: BudgetScopeMetrics): boolean {
  return d.relativeError !== null && d.exactUsd > 0 && Number.isFinite(d.estimateUsd);
}
