import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventAccumulator } from '../../../src/domain/accumulator.js';
import { calibrate, DayCalibration, deploymentKey } from '../../../src/domain/calibration/calibrate.js';
import { computeChargeback } from '../../../src/domain/chargeback.js';
import { parseDay } from '../../../src/domain/days.js';
import { parseRecord } from '../../../src/domain/fast-parse.js';
import { loadPriceCard } from '../../../src/domain/prices.js';
import {
  DEFAULT_WEIGHTING,
  PREFILL_ATTENTION_PER_CONTEXT_TOKEN,
  prefillWork,
  type Weighting,
} from '../../../src/domain/weighting.js';
import { STEP_MS, type StepCosts } from '../../../src/simulator/engine.js';
import { simulateDay } from '../../../src/simulator/simulate.js';

const prices = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')));
const DATE = '2026-11-22';

/** An engine twice as far from the defaults as the issue asks: every constant moved. */
const AWAY: StepCosts = {
  base: STEP_MS.base * 2,
  prefillPerToken: STEP_MS.prefillPerToken * 2,
  decodePerToken: STEP_MS.decodePerToken / 2,
  perContextToken: STEP_MS.perContextToken * 2,
};

function day(requests: number, pods: number, stepCosts?: StepCosts) {
  const accumulator = new EventAccumulator(prices);
  const truth = new Map<string, number>();
  const variant =
    stepCosts === undefined
      ? undefined
      : { models: { 'llama-3.1-8b-instruct': { stepCosts }, 'qwen2.5-14b-instruct': { stepCosts } } };
  for (const event of simulateDay({
    date: DATE,
    pods,
    seed: 4,
    requests,
    ...(variant === undefined ? {} : { variant }),
  })) {
    accumulator.add(parseRecord(event.json, accumulator.intern));
    if (event.truth !== undefined) {
      const key = `${event.truth.tenant}|${event.truth.feature}|${(event.json as { model: string }).model}`;
      truth.set(key, (truth.get(key) ?? 0) + event.truth.gpuMicros);
    }
  }
  return { usage: accumulator.usage(), capacity: accumulator.capacity(), truth };
}

/** Total variation between the allocation's and the truth's shares of busy GPU-time (the whole day and the next). */
function distance(
  d: ReturnType<typeof day>,
  weighting: Weighting,
  weightingFor?: (x: { model: string; gpuSku: string; gpuCount: number }) => Weighting | undefined,
): number {
  const allocated = new Map<string, number>();
  for (const date of [DATE, '2026-11-23']) {
    const bounds = parseDay(date);
    if (bounds === undefined) throw new Error(date);
    const result = computeChargeback({
      date,
      dayStart: bounds.start,
      dayEnd: bounds.end,
      usage: d.usage,
      capacity: d.capacity,
      prices,
      weighting,
      ...(weightingFor === undefined ? {} : { weightingFor }),
      idle: 'separate',
    });
    expect(result.allocatedNanos + result.idleNanos).toBe(result.fleetNanos);
    for (const row of result.rows) {
      if (row.idle) continue;
      const key = `${row.tenant}|${row.feature}|${row.model}`;
      allocated.set(key, (allocated.get(key) ?? 0) + row.gpuMicros);
    }
  }
  const a = [...allocated.values()].reduce((x, y) => x + y, 0);
  const t = [...d.truth.values()].reduce((x, y) => x + y, 0);
  let sum = 0;
  for (const key of new Set([...allocated.keys(), ...d.truth.keys()]))
    sum += Math.abs((allocated.get(key) ?? 0) / a - (d.truth.get(key) ?? 0) / t);
  return sum / 2;
}

describe("calibrating the step costs from the day's own requests", () => {
  const saturated = day(60_000, 2, AWAY);
  const calibration = calibrate(saturated.usage, DEFAULT_WEIGHTING);

  it("recovers a saturated pod's engine constants, 2x away from the defaults", () => {
    const llama = calibration.get(
      deploymentKey({ model: 'llama-3.1-8b-instruct', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1 }),
    );
    expect(llama?.source).toBe('fitted');
    const c = llama?.fit?.constants;
    expect(c?.fixedMs).toBeGreaterThan(AWAY.base * 0.98);
    expect(c?.fixedMs).toBeLessThan(AWAY.base * 1.02);
    // Prefill: the fit counts prompt tokens with an attention term that this linear engine has not,
    // so its per-token constant comes out under the engine's; what a 2,000-token prompt costs is what counts.
    const prefill = (c?.prefillMsPerToken ?? 0) * prefillWork(2000, 0, PREFILL_ATTENTION_PER_CONTEXT_TOKEN);
    expect(prefill).toBeGreaterThan(AWAY.prefillPerToken * 2000 * 0.95);
    expect(prefill).toBeLessThan(AWAY.prefillPerToken * 2000 * 1.05);
    // Decode: per token and per context token trade off; what a decode step of a 2,000-token context costs is what counts.
    const decode = (c?.decodeMsPerToken ?? 0) + (c?.decodeMsPerContextToken ?? 0) * 2000;
    const truth = AWAY.decodePerToken + AWAY.perContextToken * 2000;
    expect(Math.abs(decode - truth) / truth).toBeLessThan(0.1);
    expect(llama?.fit?.requests).toBeGreaterThan(10_000);
  });

  it('allocates within 0.5% of the truth there, where the default constants are over 1% off', () => {
    const calibrated = distance(
      saturated,
      DEFAULT_WEIGHTING,
      (d) => calibration.get(deploymentKey(d))?.weighting,
    );
    const configured = distance(saturated, DEFAULT_WEIGHTING);
    expect(calibrated).toBeLessThan(0.005);
    expect(configured).toBeGreaterThan(0.01);
    expect(calibrated).toBeLessThan(configured / 3);
  });

  it('keeps the configured constants, saying why, for a deployment with too few requests', () => {
    const quiet = calibrate(day(600, 4).usage, DEFAULT_WEIGHTING);
    for (const c of quiet.values()) {
      expect(c.source).toBe('configured');
      expect(c.weighting).toBe(DEFAULT_WEIGHTING);
      expect(c.reason).toMatch(/^\d+ requests with a decode phase, fewer than the 500 a fit needs$/);
    }
  });

  it('gives the same fit whatever order the events come in', () => {
    const forward = new DayCalibration(DEFAULT_WEIGHTING);
    forward.add(saturated.usage);
    forward.fit();
    const backward = new DayCalibration(DEFAULT_WEIGHTING);
    backward.add([...saturated.usage].reverse());
    backward.fit();
    expect(backward.records()).toEqual(forward.records());
  });

  it('reuses stored fitted constants, but not ones that would not be trusted now', () => {
    const day = new DayCalibration(DEFAULT_WEIGHTING);
    day.add(saturated.usage);
    day.fit();
    const records = day.records();
    const [first, ...rest] = records;
    if (first?.fitted === undefined) throw new Error('no fitted deployment');
    const stored = [{ ...first, fitted: { ...first.fitted, prefillMsPerToken: 0.5 } }, ...rest];
    const reused = new DayCalibration(DEFAULT_WEIGHTING, stored);
    expect(reused.settled(first)).toBe(true);
    reused.add(saturated.usage);
    reused.fit();
    expect(reused.weightingFor(first)).toMatchObject({ kind: 'step-cost', prefillMsPerToken: 0.5 });
    expect(reused.records()).toEqual(stored);
    // A damaged entry (a negative cost) is fitted anew from the events.
    const damaged = [{ ...first, fitted: { ...first.fitted, prefillMsPerToken: -0.5 } }, ...rest];
    const refitted = new DayCalibration(DEFAULT_WEIGHTING, damaged);
    expect(refitted.settled(first)).toBe(false);
    refitted.add(saturated.usage);
    refitted.fit();
    expect(refitted.records()).toEqual(records);
  });

  it('uses a stored fit with the prefill attention term it was fitted with, none when it names none', () => {
    const day = new DayCalibration(DEFAULT_WEIGHTING);
    day.add(saturated.usage);
    day.fit();
    const [first, ...rest] = day.records();
    if (first?.fitted === undefined) throw new Error('no fitted deployment');
    // A new fit names its term, and its weighting uses it.
    expect(first.prefillAttentionPerContextToken).toBe(PREFILL_ATTENTION_PER_CONTEXT_TOKEN);
    expect(day.weightingFor(first)).toMatchObject({
      prefillAttentionPerContextToken: PREFILL_ATTENTION_PER_CONTEXT_TOKEN,
    });
    // A record written before the term existed was fitted without it: used without it.
    const { prefillAttentionPerContextToken: _, ...older } = first;
    const reused = new DayCalibration(DEFAULT_WEIGHTING, [older, ...rest]);
    expect(reused.weightingFor(first)).not.toHaveProperty('prefillAttentionPerContextToken');
    expect(new Map(reused.weightings()).get(deploymentKey(first))).not.toHaveProperty(
      'prefillAttentionPerContextToken',
    );
    expect(reused.records()[0]).toEqual(older);
  });
});
