import { describe, expect, it } from 'vitest';
import type { ReportFiles, ReportStore, StoredReportInfo } from '../../src/ports/report-store.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { DAY, DAY_AFTER, DAY_BEFORE } from '../helpers/events.js';
import { isolatedServices } from '../helpers/storage.js';

// Multi-byte UTF-8, CRLF row ends and a quoted cell with a comma, as report CSVs hold them: they
// must come back byte for byte.
const FILES: ReportFiles = {
  csv: 'date,tenant,costUsd\r\n2026-11-22,"Müller, GmbH 🚀",1.000000\r\n',
  summary: '{"date":"2026-11-22","revision":1,"note":"coût ✓"}\n',
  metrics: '{\n  "schemaVersion": 1,\n  "groups": [{"tenant": "Müller 🚀", "latencyMs": [0,3,1]}]\n}\n',
};
const INFO: StoredReportInfo = { revision: 1, ledgerAsOf: '2026-11-23T00:30:00.000Z' };

const NOT_DAYS = ['2026-02-30', '2026-1-5', '2026-11-22 ', '../2026-11-22', '2026/11/22', ''];

/** One contract, two adapters: what the daily run, the report download and drift detection rely on. */
function contract(name: string, make: () => Promise<ReportStore>): void {
  describe(`report store contract: ${name}`, () => {
    it('knows nothing of a day never written', async () => {
      const store = await make();
      expect(await store.info(DAY)).toBeUndefined();
      expect(await store.csv(DAY)).toBeUndefined();
      expect(await store.summary(DAY)).toBeUndefined();
      expect(await store.metrics(DAY)).toBeUndefined();
      expect(await store.alerts(DAY)).toBeUndefined();
    });

    it('reads back the alerts file as last written, apart from the report', async () => {
      const store = await make();
      await store.writeAlerts(DAY, '{"date":"2026-11-22","alerts":[],"note":"Müller 🚀"}\n');
      expect(await store.info(DAY)).toBeUndefined();
      await store.write(DAY, FILES, INFO);
      await store.writeAlerts(DAY, '{"again":true}\n');
      expect(await store.alerts(DAY)).toBe('{"again":true}\n');
      expect(await store.alerts(DAY_AFTER)).toBeUndefined();
      expect(await store.metrics(DAY)).toBe(FILES.metrics);
    });

    it('reads back the CSV, the summary and the metrics exactly as written', async () => {
      const store = await make();
      await store.write(DAY, FILES, INFO);
      expect(await store.csv(DAY)).toBe(FILES.csv);
      expect(await store.summary(DAY)).toBe(FILES.summary);
      expect(await store.metrics(DAY)).toBe(FILES.metrics);
    });

    it('reads back the FOCUS file written with the report, and none for a day written without', async () => {
      const store = await make();
      const focus = 'BilledCost,Tags\r\n1.000000,"{""tenant"":""Müller, GmbH 🚀""}"\r\n';
      await store.write(DAY, { ...FILES, focus }, INFO);
      await store.write(DAY_AFTER, FILES, INFO);
      expect(await store.focus(DAY)).toBe(focus);
      expect(await store.focus(DAY_AFTER)).toBeUndefined();
      expect(await store.csv(DAY)).toBe(FILES.csv);
    });

    it('reads back the revision and the ledger time of the report', async () => {
      const store = await make();
      await store.write(DAY, FILES, { revision: 12, ledgerAsOf: '2026-11-24T00:30:05.123Z' });
      expect(await store.info(DAY)).toEqual({ revision: 12, ledgerAsOf: '2026-11-24T00:30:05.123Z' });
    });

    it('replaces a day’s report, content and info, when the day is written again', async () => {
      const store = await make();
      await store.write(DAY, FILES, INFO);
      const restated = { revision: 2, ledgerAsOf: '2026-11-24T00:30:00.000Z' };
      await store.write(
        DAY,
        { csv: 'date\r\n', summary: '{"revision":2}', metrics: '{"revision":2}\n' },
        restated,
      );
      expect(await store.csv(DAY)).toBe('date\r\n');
      expect(await store.summary(DAY)).toBe('{"revision":2}');
      expect(await store.metrics(DAY)).toBe('{"revision":2}\n');
      expect(await store.info(DAY)).toEqual(restated);
    });

    it('keeps each day apart', async () => {
      const store = await make();
      await store.write(DAY, FILES, INFO);
      const other = { csv: 'other\r\n', summary: '{}', metrics: '{"other":true}' };
      await store.write(DAY_AFTER, other, { revision: 3, ledgerAsOf: INFO.ledgerAsOf });
      expect(await store.csv(DAY)).toBe(FILES.csv);
      expect(await store.metrics(DAY)).toBe(FILES.metrics);
      expect(await store.info(DAY)).toEqual(INFO);
      expect(await store.info(DAY_BEFORE)).toBeUndefined();
      expect(await store.metrics(DAY_BEFORE)).toBeUndefined();
      expect(await store.csv(DAY_AFTER)).toBe('other\r\n');
      expect(await store.metrics(DAY_AFTER)).toBe('{"other":true}');
    });

    it.each(NOT_DAYS)('rejects "%s", which is not a day, on every operation', async (notDay) => {
      const store = await make();
      await expect(store.write(notDay, FILES, INFO)).rejects.toThrow(RangeError);
      await expect(store.info(notDay)).rejects.toThrow(RangeError);
      await expect(store.csv(notDay)).rejects.toThrow(RangeError);
      await expect(store.summary(notDay)).rejects.toThrow(RangeError);
      await expect(store.metrics(notDay)).rejects.toThrow(RangeError);
      await expect(store.writeAlerts(notDay, '{}')).rejects.toThrow(RangeError);
      await expect(store.alerts(notDay)).rejects.toThrow(RangeError);
    });
  });
}

contract('in memory', () => Promise.resolve(new MemoryReportStore()));
contract('Azure Blob Storage on Azurite', async () => (await isolatedServices()).reports);
