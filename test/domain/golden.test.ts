import { describe, expect, it } from 'vitest';
import { loadPriceCard } from '../../src/domain/prices.js';
import {
  at,
  capacity,
  DAY,
  DAY_BEFORE,
  EIGHT_GPU,
  ONE_GPU,
  rowOf,
  runDay,
  usage,
} from '../helpers/events.js';

// Hand-computed cases. Test prices make one GPU-second cost exactly $0.001.
describe('golden cases (time-share weighting)', () => {
  const overlapping = () => [
    capacity({ windowStart: at(0), windowEnd: at(100) }),
    usage({ tenant: 'a', startedAt: at(10), finishedAt: at(50) }),
    usage({ tenant: 'b', startedAt: at(30), finishedAt: at(70) }),
  ];

  it('two overlapping requests share the overlap: 20 s alone + 10 s shared each', () => {
    const report = runDay(overlapping());
    expect(rowOf(report, 'a').gpuSeconds).toBe('30.000');
    expect(rowOf(report, 'a').costUsd).toBe('0.030000');
    expect(rowOf(report, 'b').costUsd).toBe('0.030000');
  });

  it('keeps the idle gap visible in an (idle) row with empty token and latency cells', () => {
    const idle = rowOf(runDay(overlapping()), '(idle)');
    expect(idle).toMatchObject({
      costUsd: '0.040000',
      gpuSeconds: '40.000',
      promptTokens: '',
      p50LatencyMs: '',
    });
  });

  it('states fleet = allocated + idle in the summary', () => {
    const summary = runDay(overlapping()).summaryJson;
    expect(summary).toMatchObject({ fleetCostUsd: 0.1, allocatedCostUsd: 0.06, idleCostUsd: 0.04 });
  });

  it('idle share spreads the pod idle pro rata to allocated cost', () => {
    const report = runDay(overlapping(), { idle: 'share' });
    expect(rowOf(report, 'a').costUsd).toBe('0.050000');
    expect(rowOf(report, 'b').costUsd).toBe('0.050000');
    expect(report.rows.some((r) => r.tenant === '(idle)')).toBe(false);
  });

  it('queue time is not GPU work: the request is charged from startedAt + queueMs', () => {
    const report = runDay([
      capacity(),
      usage({ tenant: 'a', startedAt: at(10), finishedAt: at(50) }),
      usage({ tenant: 'b', startedAt: at(10), finishedAt: at(50), queueMs: 20_000 }),
    ]);
    // 10-30 a alone (20 s), 30-50 shared (10 s each).
    expect(rowOf(report, 'a').costUsd).toBe('0.030000');
    expect(rowOf(report, 'b').costUsd).toBe('0.010000');
  });

  it('splits a request over midnight: cost by day spent, the request counted on the day it finished', () => {
    const events = [
      capacity({ windowStart: at(-60), windowEnd: at(60) }),
      usage({ tenant: 'late', startedAt: at(-30), finishedAt: at(30) }),
    ];
    const today = rowOf(runDay(events), 'late');
    expect(today).toMatchObject({ costUsd: '0.030000', requests: '1' });
    const yesterday = rowOf(runDay(events, { date: DAY_BEFORE }), 'late');
    expect(yesterday).toMatchObject({ costUsd: '0.030000', requests: '0' });
  });

  it('counts the union of overlapping and repeated capacity windows once', () => {
    const report = runDay([
      capacity({ windowStart: at(0), windowEnd: at(60) }),
      capacity({ windowStart: at(30), windowEnd: at(90) }),
      capacity({ windowStart: at(0), windowEnd: at(60) }),
    ]);
    expect(report.summaryJson.fleetCostUsd).toBe(0.09);
  });

  it('charges a pod for every GPU it holds, at the VM price divided by GPUs per VM', () => {
    // 28.80 per VM-hour / 8 GPUs = $0.001 per GPU-second; the pod holds 2 GPUs for 100 s.
    const report = runDay([
      capacity({ gpuSku: EIGHT_GPU, gpuCount: 2 }),
      usage({ gpuSku: EIGHT_GPU, gpuCount: 2, startedAt: at(0), finishedAt: at(100) }),
    ]);
    expect(rowOf(report, 'acme')).toMatchObject({ gpuSeconds: '200.000', costUsd: '0.200000' });
  });

  it('prices each instant at the price in force: a change at noon', () => {
    const prices = loadPriceCard({
      currency: 'USD',
      skus: [
        { sku: ONE_GPU, gpusPerVm: 1, pricePerVmHour: 3.6, effectiveFrom: '2026-01-01T00:00:00Z' },
        { sku: ONE_GPU, gpusPerVm: 1, pricePerVmHour: 7.2, effectiveFrom: `${DAY}T12:00:00Z` },
      ],
    });
    const noon = 12 * 3600;
    const report = runDay(
      [
        capacity({ windowStart: at(noon - 60), windowEnd: at(noon + 60) }),
        usage({ startedAt: at(noon - 30), finishedAt: at(noon + 30) }),
      ],
      { prices },
    );
    // 30 s at $0.001 + 30 s at $0.002; idle the same.
    expect(rowOf(report, 'acme').costUsd).toBe('0.090000');
    expect(report.summaryJson.fleetCostUsd).toBe(0.18);
  });

  it('a request alone on its pod is charged all of the time it was active', () => {
    const report = runDay([capacity(), usage({ startedAt: at(0), finishedAt: at(100) })]);
    expect(rowOf(report, 'acme').costUsd).toBe('0.100000');
    expect(report.summaryJson.idleCostUsd).toBe(0);
  });
});
