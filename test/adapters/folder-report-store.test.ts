import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FolderReportStore } from '../../src/adapters/files/folder-report-store.js';
import { folderRequestSource } from '../../src/adapters/files/request-folder.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import type { RequestCost } from '../../src/domain/requests/request-cost.js';
import {
  dayPagePath,
  monthlyPaths,
  type ReportFiles,
  type ReportStore,
  type StoredReportInfo,
} from '../../src/ports/report-store.js';
import { BLOCK_LINES, buildRequestFile, findRequests } from '../../src/usecases/requests/request-file.js';
import { DAY, DAY_AFTER } from '../helpers/events.js';
import { isolatedServices } from '../helpers/storage.js';

const FILES: ReportFiles = {
  csv: 'date,tenant,costUsd\r\n2026-11-22,"Müller, GmbH 🚀",1.000000\r\n',
  summary: '{"date":"2026-11-22","revision":4,"note":"coût ✓"}\n',
  metrics: '{"schemaVersion":1}\n',
};
const INFO: StoredReportInfo = { revision: 4, ledgerAsOf: '2026-11-23T00:30:00.000Z', inputs: 'abc' };

function cost(i: number): RequestCost {
  return {
    requestId: `req-${i}`,
    eventId: `ev-${i}`,
    tenant: i % 2 === 0 ? 'acme' : '__proto__',
    feature: 'chat',
    model: 'llama',
    requestClass: 'interactive',
    pod: 'pod-a',
    gpuSku: 'Standard_NC24ads_A100_v4',
    gpuCount: 1,
    startedAt: 1_700_000_000_000_000 + i,
    firstTokenAt: null,
    finishedAt: 1_700_000_001_000_000 + i,
    queueMs: 0,
    promptTokens: 10,
    cachedPromptTokens: 0,
    completionTokens: 5,
    status: 'ok',
    metered: true,
    gpuMicros: 1000 + i,
    prefillGpuMicros: 100,
    decodeGpuMicros: 400,
    fixedGpuMicros: 500 + i,
    idleGpuMicros: 0,
    nanos: 2000 + i,
    idleNanos: 0,
    meanConcurrency: 1,
    maxConcurrency: 1,
  };
}

const folder = (): Promise<string> => mkdtemp(join(tmpdir(), 'reports-'));

/** The data file's bytes, read back in ranges through the store. */
async function storedData(store: ReportStore, day: string): Promise<Buffer | undefined> {
  const source = await store.requests(day);
  if (source === undefined) return undefined;
  const index = await source.index();
  return Buffer.from(await source.range(0, index.bytes));
}

/** What every report store does with a requests file streamed to it. */
function sinkContract(name: string, make: () => Promise<ReportStore>): void {
  describe(`report store, streamed requests file: ${name}`, () => {
    it('stores the bytes streamed, in chunks, as the day’s file when the day is written', async () => {
      const store = await make();
      const file = await buildRequestFile(
        DAY,
        4,
        Array.from({ length: 2 * BLOCK_LINES + 1 }, (_, i) => cost(i)),
      );
      const sink = store.requestsSink(DAY);
      for (let at = 0; at < file.data.length; at += 1000) await sink.write(file.data.slice(at, at + 1000));
      await sink.close();
      expect(await store.requests(DAY)).toBeUndefined(); // nothing before the day is written
      await store.write(DAY, { ...FILES, requests: { index: file.index } }, INFO);
      expect((await storedData(store, DAY))?.equals(Buffer.from(file.data))).toBe(true);
      expect(await (await store.requests(DAY))?.index()).toEqual(file.index);
      const source = await store.requests(DAY);
      if (source === undefined) throw new Error('no source');
      expect(await findRequests(source, '__proto__', 'req-7')).toEqual([cost(7)]);
    });

    it('still stores data given in memory', async () => {
      const store = await make();
      const file = await buildRequestFile(DAY, 4, [cost(1), cost(2)]);
      await store.write(DAY, { ...FILES, requests: file }, INFO);
      expect((await storedData(store, DAY))?.equals(Buffer.from(file.data))).toBe(true);
    });

    it('writes nothing when given an index without data and no sink was closed (or it was aborted)', async () => {
      const store = await make();
      const file = await buildRequestFile(DAY, 4, [cost(1)]);
      const sink = store.requestsSink(DAY);
      await sink.write(file.data);
      await sink.abort();
      await expect(store.write(DAY, { ...FILES, requests: { index: file.index } }, INFO)).rejects.toThrow(
        /no requestsSink closed/,
      );
      expect(await store.csv(DAY)).toBeUndefined();
      expect(await store.info(DAY)).toBeUndefined();
    });

    it('keeps the day’s file as it was when a restated day’s sink is aborted', async () => {
      const store = await make();
      const first = await buildRequestFile(DAY, 4, [cost(1)]);
      await store.write(DAY, { ...FILES, requests: first }, INFO);
      const sink = store.requestsSink(DAY);
      await sink.write(new Uint8Array([1, 2, 3]));
      await sink.abort();
      expect((await storedData(store, DAY))?.equals(Buffer.from(first.data))).toBe(true);
    });

    it('refuses a sink for a string that is not a day', async () => {
      const store = await make();
      expect(() => store.requestsSink('2026-02-30')).toThrow(RangeError);
    });
  });
}

sinkContract('in memory', () => Promise.resolve(new MemoryReportStore()));
sinkContract('a local folder', async () => new FolderReportStore(await folder()));
sinkContract('Azure Blob Storage on Azurite', async () => (await isolatedServices()).reports);

describe('the folder report store', () => {
  it('writes the command line’s flat file names, and no .partial is left', async () => {
    const dir = await folder();
    const store = new FolderReportStore(dir);
    const file = await buildRequestFile(DAY, 4, [cost(1)]);
    const sink = store.requestsSink(DAY);
    await sink.write(file.data);
    await sink.close();
    await store.write(DAY, { ...FILES, requests: { index: file.index } }, INFO);
    await store.writeAlerts(DAY, '{"alerts":[]}');
    expect((await readdir(dir)).sort()).toEqual([
      `alerts-${DAY}.json`,
      `chargeback-${DAY}.csv`,
      `info-${DAY}.json`,
      `metrics-${DAY}.json`,
      `requests-${DAY}.index.json`,
      `requests-${DAY}.ndjson.gz`,
      `summary-${DAY}.json`,
    ]);
    expect(await readFile(join(dir, `chargeback-${DAY}.csv`), 'utf8')).toBe(FILES.csv);
  });

  it('reads back what it wrote, and what chargeback explain reads is there', async () => {
    const dir = await folder();
    const store = new FolderReportStore(dir);
    const file = await buildRequestFile(DAY, 4, [cost(1), cost(2)]);
    await store.write(DAY, { ...FILES, requests: file }, INFO);
    expect(await store.csv(DAY)).toBe(FILES.csv);
    expect(await store.summary(DAY)).toBe(FILES.summary);
    expect(await store.metrics(DAY)).toBe(FILES.metrics);
    expect(await findRequests(await folderRequestSource(dir, DAY), 'acme', 'req-2')).toEqual([cost(2)]);
    expect(await store.csv(DAY_AFTER)).toBeUndefined();
    expect(await store.alerts(DAY)).toBeUndefined();
  });

  it('takes the revision from the summary and the rest of the info from beside it', async () => {
    const store = new FolderReportStore(await folder());
    expect(await store.info(DAY)).toBeUndefined();
    await store.write(DAY, FILES, INFO);
    expect(await store.info(DAY)).toEqual(INFO);
    await store.keep(DAY, { ...INFO, ledgerAsOf: '2026-11-24T00:30:00.000Z' });
    expect(await store.info(DAY)).toEqual({ ...INFO, ledgerAsOf: '2026-11-24T00:30:00.000Z' });
    await store.keep(DAY_AFTER, INFO);
    expect(await store.info(DAY_AFTER)).toBeUndefined();
  });

  it('reads a summary with no info beside it, or info of another revision, as its revision alone', async () => {
    const dir = await folder();
    const store = new FolderReportStore(dir);
    await writeFile(join(dir, `summary-${DAY}.json`), '{"revision":7}');
    expect(await store.info(DAY)).toEqual({ revision: 7, ledgerAsOf: '' });
    await writeFile(join(dir, `info-${DAY}.json`), JSON.stringify({ ...INFO, revision: 8 }));
    expect(await store.info(DAY)).toEqual({ revision: 7, ledgerAsOf: '' });
  });

  it('writes the summary last: a write that fails before it leaves the previous report', async () => {
    const dir = await folder();
    const store = new FolderReportStore(dir);
    await store.write(DAY, FILES, INFO);
    await mkdir(join(dir, `metrics-${DAY}.json.partial`)); // the metrics cannot be written now
    const restated = { ...FILES, csv: 'restated\r\n', summary: '{"revision":5}' };
    await expect(store.write(DAY, restated, { ...INFO, revision: 5 })).rejects.toThrow(
      join(dir, `metrics-${DAY}.json`),
    );
    expect(await store.summary(DAY)).toBe(FILES.summary);
    expect(await store.info(DAY)).toEqual(INFO);
  });

  it('names the path in a write error', async () => {
    const dir = await folder();
    await writeFile(join(dir, 'not-a-folder'), '');
    const store = new FolderReportStore(join(dir, 'not-a-folder'));
    await expect(store.writeAlerts(DAY, '{}')).rejects.toThrow(
      join(dir, 'not-a-folder', `alerts-${DAY}.json`),
    );
    const sink = store.requestsSink(DAY);
    await expect(sink.write(new Uint8Array([1]))).rejects.toThrow(`requests-${DAY}.ndjson.gz.partial`);
    await sink.abort();
  });

  it('writes documents flat by their base name, day pages and monthly files alike', async () => {
    const dir = await folder();
    const store = new FolderReportStore(dir);
    const month = monthlyPaths('2026-11');
    await store.writeDocument(dayPagePath(DAY), '<html>day</html>', 'text/html');
    await store.writeDocument(month.csv, 'month,csv\r\n', 'text/csv');
    await store.writeDocument(month.summary, '{}', 'application/json');
    expect((await readdir(dir)).sort()).toEqual([
      `chargeback-2026-11.csv`,
      `report-${DAY}.html`,
      'summary-2026-11.json',
    ]);
    expect(await store.document(dayPagePath(DAY))).toBe('<html>day</html>');
    expect(await store.document(month.html)).toBeUndefined();
  });

  it.each([
    '../escape.html',
    `report-${DAY}.html`,
    `chargeback/2026/11/22/summary-${DAY}.json`,
    'chargeback/2026/11/report-2026-12.html',
    '..',
  ])('refuses a document path that is not a report document’s: %s', async (path) => {
    const store = new FolderReportStore(await folder());
    await expect(store.writeDocument(path, 'x', 'text/plain')).rejects.toThrow(RangeError);
    await expect(store.document(path)).rejects.toThrow(RangeError);
  });

  it.each(['2026-02-30', '../2026-11-22', ''])(
    'rejects "%s", which is not a day, on every operation',
    async (day) => {
      const store = new FolderReportStore(await folder());
      await expect(store.write(day, FILES, INFO)).rejects.toThrow(RangeError);
      await expect(store.info(day)).rejects.toThrow(RangeError);
      await expect(store.keep(day, INFO)).rejects.toThrow(RangeError);
      await expect(store.csv(day)).rejects.toThrow(RangeError);
      await expect(store.summary(day)).rejects.toThrow(RangeError);
      await expect(store.metrics(day)).rejects.toThrow(RangeError);
      await expect(store.writeAlerts(day, '{}')).rejects.toThrow(RangeError);
      await expect(store.alerts(day)).rejects.toThrow(RangeError);
      await expect(store.requests(day)).rejects.toThrow(RangeError);
    },
  );
});
