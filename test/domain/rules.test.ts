import { describe, expect, it } from 'vitest';
import {
  at,
  capacity,
  DEFAULT_WEIGHTING,
  evaluation,
  ONE_GPU,
  rowOf,
  runDay,
  usage,
} from '../helpers/events.js';

describe('unmetered requests (contracts.md §4.5)', () => {
  it('charges 0 to a request whose pod has no capacity window and counts it', () => {
    const report = runDay([usage({ pod: 'pod-without-capacity' })]);
    expect(rowOf(report, 'acme')).toMatchObject({ requests: '1', costUsd: '0.000000' });
    expect(report.summaryJson.unmeteredRequests).toBe(1);
  });

  it('does not count a request as unmetered when a window covers part of it', () => {
    const report = runDay([
      capacity({ windowStart: at(0), windowEnd: at(15) }),
      usage({ startedAt: at(10), finishedAt: at(20) }),
    ]);
    expect(report.summaryJson.unmeteredRequests).toBe(0);
    expect(rowOf(report, 'acme').costUsd).toBe('0.005000');
  });
});

describe('exactly once (contracts.md §4.6)', () => {
  it('drops a redelivered event and counts it', () => {
    const event = usage();
    const once = runDay([capacity(), event]);
    const twice = runDay([capacity(), event, event]);
    expect(twice.csv).toBe(once.csv);
    expect(twice.summaryJson.duplicatesDropped).toBe(1);
  });

  it('keeps the same version of a conflicting eventId whatever the order, and rejects the other', () => {
    const first = usage({ eventId: 'same', tenant: 'x' });
    const second = { ...first, tenant: 'y' };
    const forward = runDay([capacity(), first, second]);
    const backward = runDay([capacity(), second, first]);
    expect(forward.csv).toBe(backward.csv);
    expect(forward.rejections).toEqual([
      'eventId "same" has another version, which was kept: this one differs in tenant',
    ]);
    expect(backward.rejections).toEqual(forward.rejections);
  });

  it('balances: read = usage + capacity + ignored + duplicates + rejected', () => {
    const event = usage();
    const report = runDay([capacity(), event, event, '{broken', usage({ tenant: '' })]);
    const s = report.summaryJson as Record<string, number | undefined>;
    expect(s.eventsRead).toBe(5);
    const parts = [s.usageEvents, s.capacityEvents, s.ignoredEvents, s.duplicatesDropped, s.rejected];
    expect(parts.reduce<number>((a, b) => a + (b ?? Number.NaN), 0)).toBe(5);
  });
});

describe('intake checks', () => {
  it('rejects a SKU the price card does not know, naming it', () => {
    const report = runDay([capacity({ gpuSku: 'Standard_NC6s_v3' })]);
    expect(report.rejections).toEqual(['gpuSku: "Standard_NC6s_v3" is not on the price card']);
  });

  // contracts.md §3 and the README: GPU-time of the day that the card cannot price fails the report (CLI
  // exit 1, the daily run fails), naming the SKU and the unpriced interval; never a silent $0.
  it('fails the report on the part of a window before the SKU had a price, not only its start', () => {
    const window = capacity({
      windowStart: '2025-12-31T23:59:00.000Z',
      windowEnd: '2026-01-01T00:01:00.000Z',
    });
    expect(() => runDay([window], { date: '2025-12-31' })).toThrow(
      'gpuSku "TEST_NC_1GPU" has no price in force: pod pod-a held GPUs from 2025-12-31T23:59:00.000Z to 2026-01-01T00:00:00.000Z with no price',
    );
    // The next day, the same window's priced minute is charged, not rejected whole.
    const priced = runDay([window], { date: '2026-01-01' });
    expect(priced.rejections).toEqual([]);
    expect(priced.summaryJson.fleetCostUsd).toBe(0.06);
  });

  it('reserves the (idle) tenant for idle rows', () => {
    expect(runDay([usage({ tenant: '(idle)' })]).rejections[0]).toMatch(/reserved/);
  });

  it('ignores evaluation events in the usage stream and counts them', () => {
    expect(runDay([evaluation()]).summaryJson.ignoredEvents).toBe(1);
  });
});

describe('step-cost weighting (default)', () => {
  it('charges a request alone on its pod all of its active time', () => {
    const report = runDay(
      [capacity(), usage({ startedAt: at(0), firstTokenAt: at(1), finishedAt: at(100), promptTokens: 4000 })],
      { weighting: DEFAULT_WEIGHTING },
    );
    expect(rowOf(report, 'acme').costUsd).toBe('0.100000');
  });

  it('gives a request in a long prefill more than an equal share of the time it overlaps a decode', () => {
    const decoding = usage({
      tenant: 'decoder',
      startedAt: at(0),
      firstTokenAt: at(0),
      finishedAt: at(20),
      completionTokens: 400,
    });
    const prefilling = usage({
      tenant: 'prefiller',
      startedAt: at(10),
      firstTokenAt: at(20),
      finishedAt: at(20),
      promptTokens: 100_000,
      completionTokens: 0,
    });
    const report = runDay([capacity({ windowStart: at(0), windowEnd: at(20) }), decoding, prefilling], {
      weighting: DEFAULT_WEIGHTING,
    });
    expect(Number(rowOf(report, 'prefiller').costUsd)).toBeGreaterThan(0.005);
    expect(report.summaryJson.closureDifferenceUsd).toBe(0);
  });

  it('charges cached prompt tokens no prefill work', () => {
    const make = (cached: number) =>
      runDay(
        [
          capacity({ windowStart: at(0), windowEnd: at(20) }),
          usage({
            tenant: 'decoder',
            startedAt: at(0),
            firstTokenAt: at(0),
            finishedAt: at(20),
            completionTokens: 400,
          }),
          usage({
            tenant: 'p',
            startedAt: at(10),
            firstTokenAt: at(20),
            finishedAt: at(20),
            promptTokens: 50_000,
            cachedPromptTokens: cached,
          }),
        ],
        { weighting: DEFAULT_WEIGHTING },
      );
    expect(Number(rowOf(make(50_000), 'p').costUsd)).toBeLessThan(Number(rowOf(make(0), 'p').costUsd));
  });
});

describe('report rows', () => {
  it('sorts by cost descending, then by the key columns', () => {
    const report = runDay([
      capacity({ windowStart: at(0), windowEnd: at(30) }),
      usage({ tenant: 'b', startedAt: at(0), finishedAt: at(10) }),
      usage({ tenant: 'a', startedAt: at(10), finishedAt: at(20) }),
      usage({ tenant: 'c', startedAt: at(20), finishedAt: at(30) }),
      usage({ tenant: 'z', pod: 'nowhere', gpuSku: ONE_GPU }),
    ]);
    expect(report.rows.map((r) => r.tenant)).toEqual(['a', 'b', 'c', 'z']);
  });

  it('reports p50 and p95 end-to-end latency (nearest rank, ms)', () => {
    const events = [capacity()];
    for (let i = 1; i <= 20; i++) events.push(usage({ startedAt: at(0), finishedAt: at(i / 10) }));
    expect(rowOf(runDay(events), 'acme')).toMatchObject({ p50LatencyMs: '1000', p95LatencyMs: '1900' });
  });

  it('counts error requests and cost per 1k tokens', () => {
    const report = runDay([
      capacity(),
      usage({ startedAt: at(0), finishedAt: at(100), promptTokens: 900, completionTokens: 100 }),
      usage({
        startedAt: at(100),
        finishedAt: at(100),
        status: 'error',
        promptTokens: 0,
        completionTokens: 0,
      }),
    ]);
    expect(rowOf(report, 'acme')).toMatchObject({
      requests: '2',
      errorRequests: '1',
      costPer1kTokensUsd: '0.100000',
    });
  });
});
