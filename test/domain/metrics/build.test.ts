import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMetrics, renderMetrics } from '../../../src/domain/metrics/build.js';
import { BIN_EDGES, binIndex } from '../../../src/domain/metrics/histogram.js';
import type { DailyMetrics, GroupMetrics } from '../../../src/domain/metrics/metrics.js';
import { at, capacity, rowOf, runDay, usage } from '../../helpers/events.js';

/** Counts per bin with `value` counted `count` times, as a trimmed histogram holds them. */
function oneBin(edges: readonly number[], ...values: number[]): number[] {
  const counts = new Array<number>(Math.max(...values.map((v) => binIndex(edges, v))) + 1).fill(0);
  for (const v of values) counts[binIndex(edges, v)] = (counts[binIndex(edges, v)] ?? 0) + 1;
  return counts;
}

function group(m: DailyMetrics, tenant: string): GroupMetrics {
  const found = m.groups.find((g) => g.tenant === tenant);
  if (found === undefined) throw new Error(`no group ${tenant}`);
  return found;
}

/** A money figure as integer micro-dollars, so sums are compared without floating-point error. */
const micros = (usd: number): number => Math.round(usd * 1e6);

const day = () => [
  capacity({ windowStart: at(0), windowEnd: at(600) }),
  capacity({ pod: 'pod-b', model: 'mistral-7b', windowStart: at(0), windowEnd: at(300) }),
  usage({
    startedAt: at(10),
    firstTokenAt: new Date(Date.parse(at(10)) + 250).toISOString(),
    finishedAt: at(20),
    queueMs: 40,
    promptTokens: 900,
    completionTokens: 120,
  }),
  usage({ startedAt: at(30), finishedAt: at(33), status: 'aborted', promptTokens: 10, completionTokens: 0 }),
  usage({ startedAt: at(40), finishedAt: at(41), status: 'error', promptTokens: 5, completionTokens: 0 }),
  usage({ tenant: 'globex', pod: 'pod-b', model: 'mistral-7b', startedAt: at(5), finishedAt: at(65) }),
];

describe('daily metrics of a group (contracts.md §8)', () => {
  const report = runDay(day());
  const acme = group(report.dailyMetrics, 'acme');

  it('carries the CSV row’s counts and its printed cost', () => {
    const row = rowOf(report, 'acme');
    expect(acme).toMatchObject({ requests: 3, errorRequests: 1, promptTokens: 915, completionTokens: 120 });
    expect(acme.costUsd).toBe(Number(row.costUsd));
    expect(acme.gpuSeconds).toBe(Number(row.gpuSeconds));
  });

  it('counts aborted requests and requests with a first token', () => {
    expect(acme.abortedRequests).toBe(1);
    expect(acme.requestsWithFirstToken).toBe(1);
  });

  it('holds each request in the bin of its tokens, latency, time to first token and queue time', () => {
    expect(acme.histograms).toEqual({
      promptTokens: oneBin(BIN_EDGES.promptTokens, 900, 10, 5),
      completionTokens: oneBin(BIN_EDGES.completionTokens, 120, 0, 0),
      latencyMs: oneBin(BIN_EDGES.latencyMs, 10_000, 3000, 1000),
      ttftMs: oneBin(BIN_EDGES.ttftMs, 250),
      // An event without queueMs is one with 0 (contracts.md §4.6 cannot tell them apart): the first bin.
      queueMs: oneBin(BIN_EDGES.queueMs, 40, 0, 0),
    });
  });

  it('counts a request on the day it finished, though its cost is split over both days', () => {
    const events = [
      capacity({ windowStart: at(86_000), windowEnd: at(87_000) }),
      usage({ tenant: 'late', startedAt: at(86_300), finishedAt: at(86_500) }),
    ];
    const late = group(runDay(events).dailyMetrics, 'late');
    expect(late.requests).toBe(0);
    expect(late.costUsd).toBeGreaterThan(0);
    expect(late.histograms.latencyMs).toEqual([]);
  });

  it('leaves the idle rows out of the groups, sorted by their keys', () => {
    expect(report.dailyMetrics.groups.map((g) => g.tenant)).toEqual(['acme', 'globex']);
  });
});

describe('daily metrics per model and pod', () => {
  // acme's first request waits 40 ms in the queue: not active, so idle (contracts.md §4.2).
  it('show each model’s fleet, allocated and idle GPU-seconds', () => {
    const { models } = runDay(day()).dailyMetrics;
    expect(models.map((m) => [m.model, m.fleetGpuSeconds, m.allocatedGpuSeconds, m.idleGpuSeconds])).toEqual([
      ['llama-8b', 600, 13.96, 586.04],
      ['mistral-7b', 300, 60, 240],
    ]);
  });

  it('show what each pod served, so that a slow replica stands out from its model', () => {
    const { pods } = runDay(day()).dailyMetrics;
    expect(
      pods.map((p) => [p.pod, p.served?.requests, p.served?.errorRequests, p.served?.abortedRequests]),
    ).toEqual([
      ['pod-a', 3, 1, 1],
      ['pod-b', 1, 0, 0],
    ]);
    expect(pods[1]?.served?.histograms.latencyMs).toEqual(oneBin(BIN_EDGES.latencyMs, 60_000));
  });

  it('show the idle time with --idle share too, where the CSV has no idle rows', () => {
    const shared = runDay(day(), { idle: 'share' }).dailyMetrics;
    expect(shared.fleet.idleCostUsd).toBe(0);
    expect(shared.models.map((m) => m.idleGpuSeconds)).toEqual([586.04, 240]);
    expect(shared.models.map((m) => m.idleCostUsd)).toEqual(
      runDay(day()).dailyMetrics.models.map((m) => m.idleCostUsd),
    );
  });

  it('add up: models to the printed fleet, pods to their model, idle to the CSV’s idle rows', () => {
    const podArb = fc.constantFrom('p1', 'p2', 'p3', 'p4');
    const modelOf = { p1: 'm1', p2: 'm1', p3: 'm2', p4: 'm3' } as const;
    const events = fc.array(
      fc.record({
        pod: podArb,
        start: fc.integer({ min: 0, max: 5000 }),
        length: fc.integer({ min: 1, max: 900 }),
      }),
      { minLength: 1, maxLength: 30 },
    );
    fc.assert(
      fc.property(events, events, (windows, requests) => {
        const report = runDay([
          ...windows.map((w) =>
            capacity({
              pod: w.pod,
              model: modelOf[w.pod],
              windowStart: at(w.start),
              windowEnd: at(w.start + w.length),
            }),
          ),
          ...requests.map((r) =>
            usage({
              pod: r.pod,
              model: modelOf[r.pod],
              startedAt: at(r.start),
              finishedAt: at(r.start + r.length / 10),
            }),
          ),
        ]);
        const m = report.dailyMetrics;
        const total = (items: readonly { fleetCostUsd: number }[]) =>
          items.reduce((n, item) => n + micros(item.fleetCostUsd), 0);
        expect(total(m.models)).toBe(micros(m.fleet.fleetCostUsd));
        const served = m.pods.reduce((n, p) => n + (p.served?.requests ?? 0), 0);
        expect(served).toBe(m.groups.reduce((n, g) => n + g.requests, 0));
        for (const model of m.models) {
          expect(total(m.pods.filter((p) => p.model === model.model))).toBe(micros(model.fleetCostUsd));
          const idleRow = report.rows.find((row) => row.tenant === '(idle)' && row.model === model.model);
          expect(micros(model.idleCostUsd)).toBe(micros(Number(idleRow?.costUsd ?? 0)));
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('the metrics file', () => {
  const metrics = runDay(day()).dailyMetrics;
  const text = renderMetrics(metrics);

  it('reads back as written', () => {
    expect(parseMetrics(text)).toEqual(JSON.parse(JSON.stringify(metrics)));
  });

  it('puts each histogram and row of bin edges on one line', () => {
    expect(text).toContain(`"latencyMs": [${BIN_EDGES.latencyMs.join(',')}]`);
    expect(text.split('\n').length).toBeLessThan(200);
  });

  it('is refused with another schemaVersion', () => {
    expect(() => parseMetrics(text.replace('"schemaVersion": 1', '"schemaVersion": 2'))).toThrow(
      /schemaVersion 2; this code reads 1/,
    );
  });

  it('is refused when its bin edges are not this version’s', () => {
    const bins = { ...metrics.bins, ttftMs: metrics.bins.ttftMs.map((e, i) => (i === 5 ? e + 1 : e)) };
    expect(() => parseMetrics(renderMetrics({ ...metrics, bins }))).toThrow(
      /bins\.ttftMs differ from the ttftMs bin edges/,
    );
  });

  it('is refused when a histogram does not hold its group’s requests, naming the group', () => {
    const [first, ...rest] = metrics.groups;
    if (first === undefined) throw new Error('no group');
    const broken = { ...first, histograms: { ...first.histograms, latencyMs: [1] } };
    expect(() => parseMetrics(renderMetrics({ ...metrics, groups: [broken, ...rest] }))).toThrow(
      /groups\[0\]\.histograms\.latencyMs counts 1 requests, the group 3/,
    );
  });

  it('is refused when a pod’s histogram does not hold the requests it served, naming the pod', () => {
    const [first, ...rest] = metrics.pods;
    if (first?.served === undefined) throw new Error('no pod');
    const broken = { ...first, served: { ...first.served, requestsWithFirstToken: 0 } };
    expect(() => parseMetrics(renderMetrics({ ...metrics, pods: [broken, ...rest] }))).toThrow(
      /pods\[0\]\.served\.histograms\.ttftMs counts 1 requests, the pod 0/,
    );
  });

  describe('with the calibrated step costs', () => {
    const fitted = {
      model: 'llama-3-8b',
      gpuSku: 'Standard_NC24ads_A100_v4',
      gpuCount: 1,
      source: 'fitted' as const,
      requests: 812,
      fitted: {
        fixedMs: 14.1,
        prefillMsPerToken: 0.088,
        decodeMsPerToken: 0.015,
        decodeMsPerContextToken: 7.1e-5,
      },
      standardErrors: {
        fixedMs: 0.1,
        prefillMsPerToken: 0.001,
        decodeMsPerToken: 0.002,
        decodeMsPerContextToken: 1e-6,
      },
      residualMs: 4.2,
    };
    const configured = {
      model: 'mistral-7b',
      gpuSku: 'Standard_NC24ads_A100_v4',
      gpuCount: 1,
      source: 'configured' as const,
      reason: '12 requests with a decode phase, fewer than the 500 a fit needs',
      requests: 0,
    };

    it('reads them back as written, under the same schemaVersion', () => {
      const withCalibration = { ...metrics, calibration: [fitted, configured] };
      const written = renderMetrics(withCalibration);
      expect(written).toContain('"schemaVersion": 1');
      expect(parseMetrics(written).calibration).toEqual([fitted, configured]);
      // Without them (every other weighting) the field is absent, not empty.
      expect(text).not.toContain('calibration');
    });

    it('refuses a fitted entry without constants, or a constant that is not a number, naming it', () => {
      const { fitted: _, ...bare } = fitted;
      expect(() => parseMetrics(renderMetrics({ ...metrics, calibration: [bare] }))).toThrow(
        /calibration\[0\] is fitted but has no fitted constants/,
      );
      const broken = JSON.parse(renderMetrics({ ...metrics, calibration: [fitted] })) as {
        calibration: { fitted: Record<string, unknown> }[];
      };
      (broken.calibration[0] as { fitted: Record<string, unknown> }).fitted.prefillMsPerToken = 'fast';
      expect(() => parseMetrics(JSON.stringify(broken))).toThrow(
        /calibration\[0\]\.fitted\.prefillMsPerToken/,
      );
    });
  });

  it('is refused when it is not JSON', () => {
    expect(() => parseMetrics('{"schemaVersion": 1,')).toThrow(/not JSON/);
  });
});
