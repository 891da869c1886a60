import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { readPriceCard } from '../../../src/composition/files.js';
import { EventAccumulator } from '../../../src/domain/accumulator.js';
import { computeChargeback } from '../../../src/domain/chargeback.js';
import { parseDay } from '../../../src/domain/days.js';
import { parseRecord } from '../../../src/domain/fast-parse.js';
import { decimal } from '../../../src/domain/monthly/daily-rows.js';
import { DEFAULT_WEIGHTING } from '../../../src/domain/weighting.js';
import { MemoryReportStore } from '../../../src/adapters/memory/memory-report-store.js';
import { MemoryRunStorage } from '../../../src/adapters/memory/memory-run-storage.js';
import { simulateDay } from '../../../src/simulator/simulate.js';
import { persistDay, type FinishInput } from '../../../src/usecases/day/finish-day.js';

const DATE = '2026-10-05';
const prices = readPriceCard('prices/azure-a100.json');

describe("the day's write path", () => {
  it('stores focus-DATE.csv with the report, adding up to its CSV', async () => {
    const day = parseDay(DATE);
    if (day === undefined) throw new Error('bad day');
    const accumulator = new EventAccumulator(prices);
    for (const event of simulateDay({ date: DATE, pods: 2, seed: 5, requests: 400 }))
      accumulator.add(parseRecord(event.json, accumulator.intern));
    const settings = {
      date: DATE,
      dayStart: day.start,
      dayEnd: day.end,
      prices,
      weighting: DEFAULT_WEIGHTING,
      idle: 'separate' as const,
    };
    const input: FinishInput = {
      settings,
      counts: accumulator.counts,
      revision: 1,
      generatedAt: `${DATE}T23:59:59.000Z`,
      chargeback: computeChargeback({
        ...settings,
        usage: accumulator.usage(),
        capacity: accumulator.capacity(),
      }),
      runs: [],
      storage: new MemoryRunStorage(),
    };
    const reports = new MemoryReportStore();
    const report = await persistDay(
      reports,
      input,
      { revision: 1, ledgerAsOf: '' },
      new Date(`${DATE}T23:59:59Z`),
    );
    const focus = await reports.focus(DATE);
    expect(focus).toBe(report.focus);
    const sumColumn = (text: string, column: string): bigint =>
      Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true }).data.reduce(
        (total, row) => total + decimal(row[column] ?? '', 6, column),
        0n,
      );
    expect(sumColumn(focus ?? '', 'BilledCost')).toBe(sumColumn((await reports.csv(DATE)) ?? '', 'costUsd'));
    expect(sumColumn(focus ?? '', 'BilledCost')).toBeGreaterThan(0n);
  });
});
