import { describe, expect, it } from 'vitest';
import type { CalibrationRecord } from '../../../src/domain/calibration/calibrate.js';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES, parseDriftRules, type DriftRules } from '../../../src/domain/drift/rules.js';
import { day, history, mutableRules, TODAY } from './fixture.js';

const SKU = 'Standard_NC24ads_A100_v4';

/** A deployment's fitted record; constants are multiplied by the factors given. */
function fitted(
  change: { fixed?: number; prefill?: number; decode?: number } = {},
  more: Partial<CalibrationRecord> = {},
): CalibrationRecord {
  return {
    model: 'llama-3-8b',
    gpuSku: SKU,
    gpuCount: 1,
    source: 'fitted',
    requests: 10_000,
    fitted: {
      fixedMs: 14 * (change.fixed ?? 1),
      prefillMsPerToken: 0.088 * (change.prefill ?? 1),
      decodeMsPerToken: 0.015 * (change.decode ?? 1),
      decodeMsPerContextToken: 0.00007 * (change.decode ?? 1),
    },
    standardErrors: {
      fixedMs: 0.01,
      prefillMsPerToken: 0.0001,
      decodeMsPerToken: 0.0002,
      decodeMsPerContextToken: 1e-7,
    },
    residualMs: 4,
    ...more,
  };
}

const steady = (days = 10) => history(days, () => ({ calibration: [fitted()] }));

function detect(
  today: readonly CalibrationRecord[],
  past = steady(),
  open: readonly string[] = [],
  rules: DriftRules = DEFAULT_DRIFT_RULES,
) {
  return detectDrift({
    today: day(TODAY, { calibration: today }),
    history: past,
    rules,
    open: new Set(open),
  }).alerts.filter((a) => a.rule === 'stepCostShift');
}

describe('drift of the fitted step costs (stepCostShift)', () => {
  it('raises when a deployment’s prefill cost doubles, naming the deployment, the constant and the numbers', () => {
    const [alert, ...rest] = detect([fitted({ prefill: 2 })]);
    expect(rest).toEqual([]);
    expect(alert).toMatchObject({
      id: `stepCostShift:llama-3-8b:${SKU}:1:prefillMsPerToken`,
      severity: 'critical',
      scope: { model: 'llama-3-8b' },
      metric: 'prefillMsPerToken',
      value: 0.176,
      baseline: 0.088,
    });
    expect(alert?.threshold).toBeCloseTo(0.132, 10);
    expect(alert?.message).toContain(
      `The fitted prefill cost of llama-3-8b on 1 x ${SKU} rose 100% to 0.176 ms per prompt token`,
    );
    expect(alert?.message).toContain('from a median of 0.088 over 10 days (critical at 0.132)');
    expect(alert?.message).toContain('chargeback calibrate');
  });

  it('watches both ways and each constant: a cheaper decode and a dearer fixed step are two alerts', () => {
    const alerts = detect([fitted({ fixed: 1.3, decode: 0.7 })]);
    expect(alerts.map((a) => [a.metric, a.severity])).toEqual([
      ['decodeMsPerToken', 'warning'],
      ['fixedStepMs', 'warning'],
    ]);
    expect(alerts[0]?.message).toContain('fell 30%');
    // The decode cost is compared at a 2,000-token context: cd + 2000 cx.
    expect(alerts[0]?.baseline).toBeCloseTo(0.015 + 0.00007 * 2000, 10);
  });

  it('stays quiet for the day-to-day wobble of a fit, for a change the fit is unsure of, and for small fits', () => {
    expect(detect([fitted({ fixed: 1.05, prefill: 0.97, decode: 1.1 })])).toEqual([]);
    // 30% up, but with a standard error of a third of the constant: not news.
    const loose = fitted(
      { prefill: 1.3 },
      {
        standardErrors: {
          fixedMs: 0.01,
          prefillMsPerToken: 0.03,
          decodeMsPerToken: 0.0002,
          decodeMsPerContextToken: 1e-7,
        },
      },
    );
    expect(detect([loose])).toEqual([]);
    expect(detect([fitted({ prefill: 2 }, { requests: 499 })])).toEqual([]);
  });

  it('needs enough baseline days with fitted constants of the same deployment', () => {
    expect(detect([fitted({ prefill: 2 })], steady(2))).toEqual([]);
    // Days fitted on another GPU count, or kept at the configured constants, are not its baseline.
    const other = history(10, () => ({ calibration: [fitted({}, { gpuCount: 2 })] }));
    expect(detect([fitted({ prefill: 2 })], other)).toEqual([]);
    const configured = history(10, () => ({
      calibration: [{ ...fitted(), source: 'configured' as const, reason: 'x' }],
    }));
    expect(detect([fitted({ prefill: 2 })], configured)).toEqual([]);
    // Days from before calibration (no calibration at all) neither.
    expect(detect([fitted({ prefill: 2 })], history(10))).toEqual([]);
  });

  it('keeps an open alert down to the clear level, then lets it resolve', () => {
    const id = `stepCostShift:llama-3-8b:${SKU}:1:prefillMsPerToken`;
    expect(detect([fitted({ prefill: 1.15 })], steady(), [id]).map((a) => a.id)).toEqual([id]);
    expect(detect([fitted({ prefill: 1.15 })], steady(), [])).toEqual([]);
    const report = detectDrift({
      today: day(TODAY, { calibration: [fitted({ prefill: 1.05 })] }),
      history: steady(),
      rules: DEFAULT_DRIFT_RULES,
      open: new Set([id]),
    });
    expect(report.resolved).toEqual([id]);
  });

  it('is off when disabled, and a rules file written before it gets the default', () => {
    const rules = mutableRules();
    rules.rules.stepCostShift.enabled = false;
    expect(detect([fitted({ prefill: 2 })], steady(), [], rules)).toEqual([]);
    const { stepCostShift: _, ...older } = structuredClone(DEFAULT_DRIFT_RULES.rules);
    const parsed = parseDriftRules({ ...DEFAULT_DRIFT_RULES, rules: older });
    expect(parsed.rules.stepCostShift).toEqual(DEFAULT_DRIFT_RULES.rules.stepCostShift);
    expect(() =>
      parseDriftRules({
        ...DEFAULT_DRIFT_RULES,
        rules: {
          ...DEFAULT_DRIFT_RULES.rules,
          stepCostShift: { ...DEFAULT_DRIFT_RULES.rules.stepCostShift, clear: { relative: 0.9 } },
        },
      }),
    ).toThrow('drift rules: rules.stepCostShift.clear.relative: must be <= warning.relative');
  });
});
