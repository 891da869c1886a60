import { describe, expect, it } from 'vitest';
import { DayCalibration, MIN_FIXED_OF_QUIET_STEP } from '../../../src/domain/calibration/calibrate.js';
import { quietStepMs, sampleKey, type Equations } from '../../../src/domain/calibration/fit.js';
import { DEFAULT_WEIGHTING, PREFILL_ATTENTION_PER_CONTEXT_TOKEN } from '../../../src/domain/weighting.js';

const deployment = { model: 'm', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1 };
const truth = [9, 0.05, 0.02, 0.0001];

/**
 * Equations of known constants, no noise: `quiet` of every 100 requests decode alone (their steps
 * hold only their own token, no prefill), the others in steps shared with 40 to 60 decoding sequences.
 */
function equations(quiet: number, rows = 4000): Equations {
  const x = new Float64Array(rows * 6);
  const y = new Float64Array(rows);
  const keys = new Float64Array(rows);
  let state = 7;
  const next = () => (state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  for (let i = 0; i < rows; i += 1) {
    const m = 1 + Math.floor(200 * next());
    const alone = i % 100 < quiet;
    const row = alone
      ? [m, 0, m, m * 1000, 100, 1000]
      : [m, 20 * m * next(), (40 + 20 * next()) * m, 50 * m * (1000 + 2000 * next()), 100, 1000];
    x.set(row, i * 6);
    y[i] = truth.reduce((sum, c, j) => sum + c * (row[j] ?? 0), 0);
    keys[i] = sampleKey(`q-${i}`);
  }
  return { columns: 6, x, y, keys, dropped: 0 };
}

function judged(e: Equations) {
  const day = new DayCalibration(DEFAULT_WEIGHTING);
  day.addEquations([{ pod: 'p', deployment, equations: e }]);
  day.fit();
  return [...day.calibrations().values()][0];
}

describe("the day's quietest decode steps", () => {
  it('are the decode time per step at a quantile of the requests', () => {
    // Per step: request i decodes 2 steps in 2 x (i + 1) ms.
    const rows = 100;
    const x = new Float64Array(rows * 6);
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i += 1) {
      x[i * 6] = 2;
      y[rows - 1 - i] = 2 * (i + 1);
    }
    const e = { columns: 6, x, y };
    expect(quietStepMs(e)).toBe(1);
    expect(quietStepMs(e, 0.5)).toBe(50);
    expect(quietStepMs(e, 1)).toBe(100);
    expect(quietStepMs({ columns: 6, x: new Float64Array(), y: new Float64Array() })).toBeNaN();
    expect(() => quietStepMs(e, 1.5)).toThrow(/quantile 1.5 is not in \[0, 1\]/);
  });

  it('keep a fit whose fixed step is close to them, with the attention term in its weighting', () => {
    const c = judged(equations(5));
    expect(c?.source).toBe('fitted');
    expect(c?.fit?.constants.fixedMs).toBeCloseTo(9, 6);
    // The quiet requests' steps: 9 + 0.02 + 0.0001 x 1,000 ms; the fixed step is 98.7% of that.
    expect(quietStepMs(equations(5))).toBeCloseTo(9.12, 9);
    expect(c?.weighting).toEqual({
      kind: 'step-cost',
      prefillMsPerToken: 0.05,
      decodeMsPerToken: 0.02,
      decodeMsPerContextToken: 0.0001,
      prefillAttentionPerContextToken: PREFILL_ATTENTION_PER_CONTEXT_TOKEN,
    });
  });

  it('turn a fit to the configured constants when its fixed step is well under every step of the day', () => {
    // No request decodes alone: the fit is exact, but nothing in the day shows steps of about the
    // fixed time, and on a pod that preempts this is what a bent fit looks like.
    const e = equations(0);
    expect(MIN_FIXED_OF_QUIET_STEP * quietStepMs(e)).toBeGreaterThan(9);
    const c = judged(e);
    expect(c?.fit?.constants.fixedMs).toBeCloseTo(9, 6);
    expect(c?.source).toBe('configured');
    // The configured constants, with the attention term: a saturated pod's prompts still have it.
    expect(c?.weighting).toEqual({
      ...DEFAULT_WEIGHTING,
      prefillAttentionPerContextToken: PREFILL_ATTENTION_PER_CONTEXT_TOKEN,
    });
    expect(c?.reason).toMatch(
      /^the fitted fixed step time 9\.00 ms is under 97% of the quietest decode steps \(\d+\.\d\d ms per step at the 1st percentile\).*; the configured constants are used, with the prefill attention term$/,
    );
  });
});
