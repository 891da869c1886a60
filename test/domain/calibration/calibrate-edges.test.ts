import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DayCalibration } from '../../../src/domain/calibration/calibrate.js';
import type { UsageRecord } from '../../../src/domain/records.js';
import { DEFAULT_WEIGHTING } from '../../../src/domain/weighting.js';
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
              expect(day.weightingFor(record)).toBeUndefined();
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
            expect(w).toBeUndefined();
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
  it('fits pods of 300,000 requests each, packed, in pod order', () => {
    // Synthetic equations with known constants: the size is what is tested (a pod's rows are not
    // spread into one call, which stops at about 100,000 arguments), and the fit must find them.
    const truth = [9, 0.05, 0.02, 0.0001];
    const pod = (seed: number, rows: number) => {
      const x = new Float64Array(rows * 6);
      const y = new Float64Array(rows);
      let state = seed;
      const next = () => (state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
      for (let i = 0; i < rows; i += 1) {
        const row = [1 + 200 * next(), 5000 * next(), 4000 * next(), 2_000_000 * next(), 100, 1000];
        x.set(row, i * 6);
        y[i] = truth.reduce((sum, c, j) => sum + c * (row[j] ?? 0), 0);
      }
      return { columns: 6, x, y };
    };
    const day = new DayCalibration(DEFAULT_WEIGHTING);
    const deployment = { model: 'm', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1 };
    day.addEquations([
      { pod: 'pod-b', deployment, equations: pod(2, 300_000) },
      { pod: 'pod-a', deployment, equations: pod(1, 300_000) },
    ]);
    day.fit();
    const [calibration] = [...day.calibrations().values()];
    expect(calibration?.requests).toBe(600_000);
    expect(calibration?.source).toBe('fitted');
    const c = calibration?.fit?.constants;
    expect(c?.fixedMs).toBeCloseTo(truth[0] ?? 0, 6);
    expect(c?.prefillMsPerToken).toBeCloseTo(truth[1] ?? 0, 8);
    expect(c?.decodeMsPerToken).toBeCloseTo(truth[2] ?? 0, 8);
    expect(c?.decodeMsPerContextToken).toBeCloseTo(truth[3] ?? 0, 10);
  });
});
