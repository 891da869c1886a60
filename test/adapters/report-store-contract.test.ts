import { describe, expect, it } from 'vitest';
import type { ReportStore, StoredReportInfo } from '../../src/ports/report-store.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { DAY, DAY_AFTER, DAY_BEFORE } from '../helpers/events.js';
import { isolatedServices } from '../helpers/storage.js';

// Multi-byte UTF-8, CRLF row ends and a quoted cell with a comma, as report CSVs hold them: they
// must come back byte for byte.
const CSV = 'date,tenant,costUsd\r\n2026-11-22,"Müller, GmbH 🚀",1.000000\r\n';
const SUMMARY = '{"date":"2026-11-22","revision":1,"note":"coût ✓"}\n';
const INFO: StoredReportInfo = { revision: 1, ledgerAsOf: '2026-11-23T00:30:00.000Z' };

const NOT_DAYS = ['2026-02-30', '2026-1-5', '2026-11-22 ', '../2026-11-22', '2026/11/22', ''];

/** One contract, two adapters: what the daily run and the report download rely on. */
function contract(name: string, make: () => Promise<ReportStore>): void {
  describe(`report store contract: ${name}`, () => {
    it('knows nothing of a day never written', async () => {
      const store = await make();
      expect(await store.info(DAY)).toBeUndefined();
      expect(await store.csv(DAY)).toBeUndefined();
      expect(await store.summary(DAY)).toBeUndefined();
    });

    it('reads back the CSV and the summary exactly as written', async () => {
      const store = await make();
      await store.write(DAY, CSV, SUMMARY, INFO);
      expect(await store.csv(DAY)).toBe(CSV);
      expect(await store.summary(DAY)).toBe(SUMMARY);
    });

    it('reads back the revision and the ledger time of the report', async () => {
      const store = await make();
      await store.write(DAY, CSV, SUMMARY, { revision: 12, ledgerAsOf: '2026-11-24T00:30:05.123Z' });
      expect(await store.info(DAY)).toEqual({ revision: 12, ledgerAsOf: '2026-11-24T00:30:05.123Z' });
    });

    it('replaces a day’s report, content and info, when the day is written again', async () => {
      const store = await make();
      await store.write(DAY, CSV, SUMMARY, INFO);
      const restated = { revision: 2, ledgerAsOf: '2026-11-24T00:30:00.000Z' };
      await store.write(DAY, 'date\r\n', '{"revision":2}', restated);
      expect(await store.csv(DAY)).toBe('date\r\n');
      expect(await store.summary(DAY)).toBe('{"revision":2}');
      expect(await store.info(DAY)).toEqual(restated);
    });

    it('keeps each day apart', async () => {
      const store = await make();
      await store.write(DAY, CSV, SUMMARY, INFO);
      await store.write(DAY_AFTER, 'other\r\n', '{}', { revision: 3, ledgerAsOf: INFO.ledgerAsOf });
      expect(await store.csv(DAY)).toBe(CSV);
      expect(await store.info(DAY)).toEqual(INFO);
      expect(await store.info(DAY_BEFORE)).toBeUndefined();
      expect(await store.csv(DAY_AFTER)).toBe('other\r\n');
    });

    it.each(NOT_DAYS)('rejects "%s", which is not a day, on every operation', async (notDay) => {
      const store = await make();
      await expect(store.write(notDay, CSV, SUMMARY, INFO)).rejects.toThrow(RangeError);
      await expect(store.info(notDay)).rejects.toThrow(RangeError);
      await expect(store.csv(notDay)).rejects.toThrow(RangeError);
      await expect(store.summary(notDay)).rejects.toThrow(RangeError);
    });
  });
}

contract('in memory', () => Promise.resolve(new MemoryReportStore()));
contract('Azure Blob Storage on Azurite', async () => (await isolatedServices()).reports);
