/**
 * Drift in the step costs fitted from each day's requests (`--weighting calibrated`, the metrics
 * file's `calibration`): a vLLM upgrade, another tensor-parallel setting or a driver change moves
 * what a step, a prompt token or a generated token costs, and with it every feature's share of the
 * deployment's GPU-time. Each deployment's fixed step time, prefill cost per token and decode cost
 * per token (at a 2,000-token context) is compared with its median over the window's days that
 * used fitted constants. A change must reach the rule's relative level and be `minStandardErrors`
 * times today's standard error, so a day with a loose fit does not raise on noise.
 */
import type { CalibrationRecord } from '../calibration/calibrate.js';
import type { StepConstants } from '../calibration/fit.js';
import type { DailyMetrics } from '../metrics/metrics.js';
import { alertId } from './alert-id.js';
import type { DriftAlert } from './labels.js';
import { median } from './baseline.js';
import { judgeChange, levelText } from './change.js';
import type { DetectContext } from './context.js';
import { formatChange, formatNumber } from './format.js';

/** The context at which the decode cost per token is compared (cd + cx x context). */
export const REFERENCE_CONTEXT_TOKENS = 2000;

const CONSTANTS = [
  {
    metric: 'fixedStepMs',
    title: 'fixed step time',
    unit: 'ms per step',
    value: (c: StepConstants) => c.fixedMs,
    error: (e: StepConstants) => e.fixedMs,
  },
  {
    metric: 'prefillMsPerToken',
    title: 'prefill cost',
    unit: 'ms per prompt token',
    value: (c: StepConstants) => c.prefillMsPerToken,
    error: (e: StepConstants) => e.prefillMsPerToken,
  },
  {
    metric: 'decodeMsPerToken',
    title: `decode cost at a ${REFERENCE_CONTEXT_TOKENS.toLocaleString('en-US')}-token context`,
    unit: 'ms per generated token',
    value: (c: StepConstants) => c.decodeMsPerToken + c.decodeMsPerContextToken * REFERENCE_CONTEXT_TOKENS,
    // The covariance of the two is left out; it is negative in practice, so this errs on the wide side.
    error: (e: StepConstants) =>
      Math.hypot(e.decodeMsPerToken, e.decodeMsPerContextToken * REFERENCE_CONTEXT_TOKENS),
  },
] as const;

const key = (c: Pick<CalibrationRecord, 'model' | 'gpuSku' | 'gpuCount'>): string =>
  JSON.stringify([c.model, c.gpuSku, c.gpuCount]);

function fittedOf(day: DailyMetrics): Map<string, CalibrationRecord> {
  const fitted = new Map<string, CalibrationRecord>();
  for (const c of day.calibration ?? [])
    if (c.source === 'fitted' && c.fitted !== undefined && !fitted.has(key(c))) fitted.set(key(c), c);
  return fitted;
}

export function stepCostAlerts(ctx: DetectContext): DriftAlert[] {
  const rule = ctx.rules.rules.stepCostShift;
  if (!rule.enabled) return [];
  // Step costs do not follow the weekday: every day of the window found counts.
  const history = ctx.window.found.map(fittedOf);
  const alerts: DriftAlert[] = [];
  for (const today of fittedOf(ctx.today).values()) {
    if (today.requests < rule.minRequests || today.fitted === undefined) continue;
    const past = history.flatMap((days) => {
      const c = days.get(key(today));
      return c?.fitted === undefined || c.requests < rule.minRequests ? [] : [c.fitted];
    });
    if (past.length < ctx.rules.minBaselineDays) continue;
    const deployment = `${today.model} on ${today.gpuCount} x ${today.gpuSku}`;
    for (const constant of CONSTANTS) {
      const value = constant.value(today.fitted);
      const baseline = median(past.map(constant.value));
      if (baseline === undefined || !(baseline > 0)) continue;
      const id = alertId('stepCostShift', [
        today.model,
        today.gpuSku,
        String(today.gpuCount),
        constant.metric,
      ]);
      const open = ctx.open.has(id);
      const verdict = judgeChange(
        { value, baseline, scale: 1, open },
        {
          direction: 'both',
          warning: { relative: rule.warning.relative, absolute: 0 },
          critical: { relative: rule.critical.relative, absolute: 0 },
          clear: { relative: rule.clear.relative, absolute: 0 },
        },
      );
      if (verdict === undefined) continue;
      const error = today.standardErrors === undefined ? 0 : constant.error(today.standardErrors);
      // A new alert needs a change the fit is sure of; an open one is held by the clear level alone.
      if (!open && Math.abs(value - baseline) < rule.minStandardErrors * error) continue;
      const moved = verdict.direction === 'up' ? 'rose' : 'fell';
      alerts.push({
        id,
        rule: 'stepCostShift',
        severity: verdict.severity,
        scope: { model: today.model },
        metric: constant.metric,
        value,
        baseline,
        threshold: verdict.threshold,
        message:
          `The fitted ${constant.title} of ${deployment} ${moved} ${formatChange(value, baseline)} to ` +
          `${formatNumber(value)} ${constant.unit} (standard error ${formatNumber(error)}, ` +
          `${today.requests.toLocaleString('en-US')} requests) from a median of ${formatNumber(baseline)} ` +
          `over ${past.length} day${past.length === 1 ? '' : 's'} ` +
          `(${levelText(verdict, formatNumber(verdict.threshold))}). The engine's costs changed (a vLLM ` +
          `upgrade or new settings?), and with them how its GPU-time is split among features; ` +
          `check the deployment's release, and its own metrics with chargeback calibrate.`,
      });
    }
  }
  return alerts;
}
