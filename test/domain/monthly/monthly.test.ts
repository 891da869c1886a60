import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../../src/domain/errors.js';
import { BIN_EDGES } from '../../../src/domain/metrics/histogram.js';
import type { DailyMetrics, GroupMetrics } from '../../../src/domain/metrics/metrics.js';
import { formatScaled } from '../../../src/domain/exact.js';
import { decimal, parseDailyCsv } from '../../../src/domain/monthly/daily-rows.js';
import { buildPeriod, renderPeriodCsv } from '../../../src/domain/monthly/monthly.js';
import { CSV_COLUMNS } from '../../../src/domain/report/csv.js';

const HEADER = CSV_COLUMNS.join(',');

function csv(date: string, lines: string[]): string {
  return `${[HEADER, ...lines.map((l) => `${date},${l}`)].join('\r\n')}\r\n`;
}

function metrics(date: string, groups: Partial<GroupMetrics>[], fleetCostUsd: number): DailyMetrics {
  const empty = { promptTokens: [], completionTokens: [], latencyMs: [], ttftMs: [], queueMs: [] };
  return {
    schemaVersion: 1,
    date,
    revision: 1,
    generatedAt: `${date}T01:00:00Z`,
    currency: 'USD',
    fleet: { fleetCostUsd } as DailyMetrics['fleet'],
    bins: BIN_EDGES,
    groups: groups.map((g) => ({ histograms: empty, ...g }) as GroupMetrics),
    models: [],
    pods: [],
  };
}

describe('reading a daily CSV exactly', () => {
  it('scales decimals to integers without floating point', () => {
    expect(decimal('123456789012.345678', 6, 'x')).toBe(123_456_789_012_345_678n);
    expect(decimal('0.1', 3, 'x')).toBe(100n);
    expect(formatScaled(123_456_789_012_345_678n, 6)).toBe('123456789012.345678');
    expect(formatScaled(5n, 6)).toBe('0.000005');
  });

  it.each([
    ['1.2345678', 'costUsd'],
    ['-1.00', 'costUsd'],
    ['1e3', 'costUsd'],
    ['', 'costUsd'],
  ])('refuses %j as money, naming the file, line and column', (cost, column) => {
    const text = csv('2026-11-01', [`t,f,m,interactive,1,0,10,10,0,1.000,${cost},,1,1`]);
    expect(() => parseDailyCsv(text, 'chargeback-2026-11-01.csv', '2026-11-01')).toThrow(
      new RegExp(`chargeback-2026-11-01.csv line 2: ${column}`),
    );
  });

  it('refuses a file that is not a daily CSV, or holds another day', () => {
    expect(() => parseDailyCsv('a,b\r\n', 'x.csv', '2026-11-01')).toThrow(PermanentError);
    const text = csv('2026-11-02', ['t,f,m,interactive,1,0,10,10,0,1.000,1.000000,,1,1']);
    expect(() => parseDailyCsv(text, 'x.csv', '2026-11-01')).toThrow(
      'date 2026-11-02 in the file of 2026-11-01',
    );
  });
});

describe('a period summed from its days', () => {
  it('sums money beyond 2^53 nano-dollars (and micro-dollars) without losing a digit', () => {
    // 9,007,199,254.740993 USD a day: each day alone is past 2^53 micro-dollars.
    const day = (date: string): string =>
      csv(date, ['acme,chat,m,interactive,1,0,10,10,0,1.000,9007199254.740993,,1,1']);
    const days = ['2026-11-01', '2026-11-02', '2026-11-03'].map((date) => ({
      date,
      rows: parseDailyCsv(day(date), 'x', date),
    }));
    const period = buildPeriod({ period: '2026-11', currency: 'USD', days, missing: [] });
    expect(formatScaled(period.allocatedMicros, 6)).toBe('27021597764.222979');
    expect(renderPeriodCsv(period)).toContain(',27021597764.222979,');
  });

  it('takes p50 and p95 from the summed histograms, not from either day', () => {
    // latency bins: day 1 has 19 fast requests, day 2 has 1 fast and 19 slow.
    const edges = BIN_EDGES.latencyMs;
    const fast = 3;
    const slow = 20;
    const histogram = (counts: Record<number, number>): number[] =>
      Array.from({ length: slow + 1 }, (_, i) => counts[i] ?? 0);
    const group = { tenant: 'acme', feature: 'chat', model: 'm', requestClass: 'interactive' };
    const line = 'acme,chat,m,interactive,20,0,10,10,0,1.000,1.000000,,1,1';
    const days = [
      { date: '2026-11-01', h: histogram({ [fast]: 20 }) },
      { date: '2026-11-02', h: histogram({ [fast]: 1, [slow]: 19 }) },
    ].map(({ date, h }) => ({
      date,
      rows: parseDailyCsv(csv(date, [line]), 'x', date),
      metrics: metrics(
        date,
        [
          {
            ...group,
            histograms: { promptTokens: [], completionTokens: [], latencyMs: h, ttftMs: [], queueMs: [] },
          },
        ],
        1,
      ),
    }));
    const [row] = buildPeriod({ period: '2026-11', currency: 'USD', days, missing: [] }).rows;
    // 40 requests: 21 fast, 19 slow. The median (rank 20) is fast; p95 (rank 38) is slow.
    expect(row?.p50LatencyMs).toBe(edges[fast + 1]);
    expect(row?.p95LatencyMs).toBe(edges[slow + 1]);
    expect(row?.days).toBe(2);
    expect(row?.requests).toBe(40n);
  });

  it('keeps the idle rows apart, with blank token and latency cells', () => {
    const text = csv('2026-11-01', [
      '(idle),(idle),m,(idle),0,0,,,,100.000,5.000000,,,',
      'acme,chat,m,interactive,3,1,10,20,5,1.500,1.250000,0.041667,10,20',
    ]);
    const period = buildPeriod({
      period: '2026-11',
      currency: 'USD',
      days: [{ date: '2026-11-01', rows: parseDailyCsv(text, 'x', '2026-11-01') }],
      missing: ['2026-11-02'],
    });
    expect([period.idleMicros, period.allocatedMicros]).toEqual([5_000_000n, 1_250_000n]);
    expect(renderPeriodCsv(period).split('\r\n')[1]).toBe(
      '2026-11,(idle),(idle),m,(idle),1,0,0,,,,100.000,5.000000,,,',
    );
    expect(period.missing).toEqual(['2026-11-02']);
  });

  it('writes a text cell that needs quoting as RFC 4180 asks, and keeps its spreadsheet guard', () => {
    const text = `${HEADER}\r\n2026-11-01,"'=HYPERLINK(""x"")","a,b",m,interactive,1,0,1,1,0,0.001,0.000001,0.000500,1,1\r\n`;
    const period = buildPeriod({
      period: '2026-11',
      currency: 'USD',
      days: [{ date: '2026-11-01', rows: parseDailyCsv(text, 'x', '2026-11-01') }],
      missing: [],
    });
    expect(renderPeriodCsv(period)).toContain(`2026-11,"'=HYPERLINK(""x"")","a,b",m,`);
  });
});
