import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DayCalibration, MAX_FIT_REQUESTS } from '../../../src/domain/calibration/calibrate.js';
import { keepUpTo, sampleKey, sampleThreshold, type Equations } from '../../../src/domain/calibration/fit.js';
import type { UsageRecord } from '../../../src/domain/records.js';
import { DEFAULT_WEIGHTING, PREFILL_ATTENTION_PER_CONTEXT_TOKEN } from '../../../src/domain/weighting.js';
import { readFileSync } from 'node:fs';
import { EventAccumulator } from '../../../src/domain/accumulator.js';
import { parseRecord } from '../../../src/domain/fast-parse.js';
import { loadPriceCard } from '../../../src/domain/prices.js';
import { simulateDay } from '../../../src/simulator/simulate.js';

const prices = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')));

const T0 = 1_795_000_000_000_000; // microseconds

/** A usage record from the fuzzer's numbers: windows anywhere, zero-length or not, any status. */
const usageRecord = fc
  .record({
    pod: fc.constantFrom('pod-a', 'pod-b', '=cmd|"x"', 'pod ☃'),
    model: fc.constantFrom('m1', 'm2'),
    start: fc.integer({ min: 0, max: 600_000_000 }),
    prefill: fc.integer({ min: 0, max: 5_000_000 }),
    decode: fc.integer({ min: 0, max: 60_000_000 }),
    prompt: fc.integer({ min: 0, max: 100_000 }),
    cached: fc.integer({ min: 0, max: 100_000 }),
    completion: fc.integer({ min: 0, max: 20_000 }),
    status: fc.constantFrom('ok', 'error', 'aborted'),
    firstToken: fc.boolean(),
  })
  .map((r, i = 0): UsageRecord => ({
    type: 'usage',
    eventId: `e-${r.pod}-${r.start}-${r.prefill}-${r.decode}-${r.completion}-${i}`,
    requestId: `r-${r.start}`,
    tenant: 't',
    feature: 'f',
    model: r.model,
    requestClass: 'interactive',
    pod: r.pod,
    gpuSku: 'Standard_NC24ads_A100_v4',
    gpuCount: 1,
    startedAt: T0 + r.start,
    firstTokenAt: r.firstToken ? T0 + r.start + r.prefill : null,
    finishedAt: T0 + r.start + r.prefill + r.decode,
    promptTokens: r.prompt,
    completionTokens: r.completion,
    cachedPromptTokens: Math.min(r.cached, r.prompt),
    queueMs: 0,
    status: r.status,
  }));

describe('calibrating on any usage at all', () => {
  it('never throws, and gives every deployment a usable weighting or the configured one with a reason', () => {
    let fitted = 0;
    fc.assert(
      fc.property(
        fc.array(usageRecord, { maxLength: 120 }),
        fc.integer({ min: 1, max: 50 }),
        (usage, min) => {
          const unique = [...new Map(usage.map((u) => [u.eventId, u])).values()];
          const day = new DayCalibration(DEFAULT_WEIGHTING, [], min);
          day.add(unique);
          day.fit();
          for (const record of day.records()) {
            if (record.source === 'configured') {
              expect(record.reason).toMatch(/\S/);
              // The configured constants; with the attention term only where the quiet-step rule alone refused the fit.
              expect(day.weightingFor(record)).toEqual(
                /with the prefill attention term$/.test(record.reason ?? '')
                  ? {
                      ...DEFAULT_WEIGHTING,
                      prefillAttentionPerContextToken: PREFILL_ATTENTION_PER_CONTEXT_TOKEN,
                    }
                  : DEFAULT_WEIGHTING,
              );
              continue;
            }
            const w = day.weightingFor(record);
            expect(w?.kind).toBe('step-cost');
            if (w?.kind !== 'step-cost') return;
            for (const v of [w.prefillMsPerToken, w.decodeMsPerToken, w.decodeMsPerContextToken]) {
              expect(Number.isFinite(v)).toBe(true);
              expect(v).toBeGreaterThanOrEqual(0);
            }
            expect(w.prefillMsPerToken).toBeGreaterThan(0);
          }
          fitted += day.records().filter((r) => r.source === 'fitted').length;
          // Every deployment that sent usage is accounted for.
          const deployments = new Set(unique.map((u) => u.model));
          expect(new Set(day.records().map((r) => r.model))).toEqual(deployments);
        },
      ),
      { numRuns: 300 },
    );
    // Random windows never make a fit that is trusted: this covers the fallback.
    expect(fitted).toBe(0);
  });

  it('with hostile requests mixed into a real day, still fits sane constants or falls back', () => {
    const base = simulated();
    let fitted = 0;
    fc.assert(
      fc.property(fc.array(usageRecord, { maxLength: 60 }), (extra) => {
        const day = new DayCalibration(DEFAULT_WEIGHTING);
        // The simulated day's pods and models, with the extra requests on those same pods.
        const moved = extra.map((u, i) => ({
          ...u,
          eventId: `x-${i}`,
          pod: base[i % base.length]?.pod ?? u.pod,
          model: base[i % base.length]?.model ?? u.model,
          gpuSku: base[i % base.length]?.gpuSku ?? u.gpuSku,
          startedAt: (base[i % base.length]?.startedAt ?? u.startedAt) + (u.startedAt - T0) / 100,
          firstTokenAt:
            u.firstTokenAt === null
              ? null
              : (base[i % base.length]?.startedAt ?? 0) + (u.firstTokenAt - T0) / 100,
          finishedAt: (base[i % base.length]?.startedAt ?? 0) + (u.finishedAt - T0) / 100,
        }));
        day.add([...base, ...moved]);
        day.fit();
        for (const record of day.records()) {
          const w = day.weightingFor(record);
          if (record.source === 'configured') {
            expect(record.reason).toMatch(/\S/);
            expect(w).toEqual(
              /with the prefill attention term$/.test(record.reason ?? '')
                ? {
                    ...DEFAULT_WEIGHTING,
                    prefillAttentionPerContextToken: PREFILL_ATTENTION_PER_CONTEXT_TOKEN,
                  }
                : DEFAULT_WEIGHTING,
            );
            continue;
          }
          fitted += 1;
          if (w?.kind !== 'step-cost') throw new Error('a fitted deployment without step costs');
          expect(record.fitted?.fixedMs).toBeGreaterThan(0);
          for (const v of [w.prefillMsPerToken, w.decodeMsPerToken, w.decodeMsPerContextToken]) {
            expect(Number.isFinite(v)).toBe(true);
            expect(v).toBeGreaterThanOrEqual(0);
          }
        }
      }),
      { numRuns: 25 },
    );
    expect(fitted).toBeGreaterThan(0);
  });
});

/** A small simulated day (both models, enough requests to fit), as usage records. */
function simulated(): UsageRecord[] {
  const accumulator = new EventAccumulator(prices);
  for (const event of simulateDay({ date: '2026-11-22', pods: 2, seed: 5, requests: 4000 }))
    accumulator.add(parseRecord(event.json, accumulator.intern));
  return [...accumulator.usage()];
}

describe('a deployment with pods of a fleet day', () => {
  const truth = [9, 0.05, 0.02, 0.0001];
  const deployment = { model: 'm', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1 };
  /** Synthetic equations with known constants and a little noise, keyed like a pod's requests. */
  const pod = (seed: number, rows: number) => {
    const x = new Float64Array(rows * 6);
    const y = new Float64Array(rows);
    const keys = new Float64Array(rows);
    let state = seed;
    const next = () => (state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    for (let i = 0; i < rows; i += 1) {
      // One request in 20 decodes alone (its steps hold nothing else), as on a day with quiet
      // stretches: a fit's fixed step is checked against those steps (quietStepMs).
      const m = 1 + 200 * next();
      const row =
        i % 20 === 0
          ? [m, 0, m, m * 1000 * (1 + next()), 100, 1000]
          : [m, 5000 * next(), 4000 * next(), 2_000_000 * next(), 100, 1000];
      x.set(row, i * 6);
      y[i] = truth.reduce((sum, c, j) => sum + c * (row[j] ?? 0), 0) * (1 + 0.01 * (next() - 0.5));
      keys[i] = sampleKey(`${seed}-${i}`);
    }
    return { columns: 6, x, y, keys, dropped: 0 };
  };

  it('fits pods of 300,000 requests each on a sample, every request counted', () => {
    // The size is what is tested: a pod's rows are not spread into one call (which stops at about
    // 100,000 arguments), and the main process keeps a bounded sample that still finds the truth.
    const day = new DayCalibration(DEFAULT_WEIGHTING);
    day.addEquations([
      { pod: 'pod-b', deployment, equations: pod(2, 300_000) },
      { pod: 'pod-a', deployment, equations: pod(1, 300_000) },
    ]);
    day.fit();
    const [calibration] = [...day.calibrations().values()];
    // Every request is counted; the fit uses the sample.
    expect(calibration?.requests).toBe(600_000);
    expect(calibration?.fit?.requests).toBe(MAX_FIT_REQUESTS);
    expect(calibration?.source).toBe('fitted');
    const c = calibration?.fit?.constants;
    expect(Math.abs((c?.fixedMs ?? 0) / (truth[0] ?? 1) - 1)).toBeLessThan(0.01);
    expect(Math.abs((c?.prefillMsPerToken ?? 0) / (truth[1] ?? 1) - 1)).toBeLessThan(0.01);
    expect(Math.abs((c?.decodeMsPerToken ?? 0) / (truth[2] ?? 1) - 1)).toBeLessThan(0.01);
    expect(Math.abs((c?.decodeMsPerContextToken ?? 0) / (truth[3] ?? 1) - 1)).toBeLessThan(0.01);
  });

  it('samples the same requests however the pods come, one by one, together or pre-sampled', () => {
    const limit = 1000;
    const pods = [pod(11, 1500), pod(12, 700), pod(13, 2600)];
    const fitted = (batches: number[][], presampled: boolean) => {
      const day = new DayCalibration(DEFAULT_WEIGHTING, [], 500, limit);
      for (const batch of batches)
        day.addEquations(
          batch.map((i) => {
            const e = pods[i] as Equations;
            return {
              pod: `pod-${i}`,
              deployment,
              equations: presampled ? keepUpTo(e, sampleThreshold([e], limit)) : e,
            };
          }),
        );
      day.fit();
      return [...day.calibrations().values()];
    };
    const together = fitted([[0, 1, 2]], false);
    expect(together[0]?.requests).toBe(4800);
    expect(together[0]?.fit?.requests).toBe(limit);
    expect(fitted([[2], [0], [1]], false)).toStrictEqual(together);
    expect(fitted([[1], [2, 0]], true)).toStrictEqual(together);
    // The sample is the requests with the smallest keys: the same fit as those alone, unsampled.
    const keys = Float64Array.from(pods.flatMap((p) => [...p.keys])).sort();
    const cut = keys[limit - 1] as number;
    const alone = new DayCalibration(DEFAULT_WEIGHTING, [], 500, 10 * limit);
    alone.addEquations(pods.map((e, i) => ({ pod: `pod-${i}`, deployment, equations: keepUpTo(e, cut) })));
    alone.fit();
    const [only] = [...alone.calibrations().values()];
    expect(only?.fit?.requests).toBe(limit);
    expect(together[0]?.fit).toStrictEqual(only?.fit);
  });
});
