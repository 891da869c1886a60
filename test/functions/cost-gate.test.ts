import { describe, expect, it } from 'vitest';
import { makeCostGate } from '../../functions/costGate.js';
import { HttpRequest, quietContext } from '../../dev/functions-runtime.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { MemoryRunStore } from '../../src/adapters/memory/memory-run-store.js';
import { storageClients } from '../../src/composition/composition.js';
import { buildReport } from '../../src/domain/report/build.js';
import { EventAccumulator } from '../../src/domain/accumulator.js';
import { parseRecordText } from '../../src/domain/fast-parse.js';
import { parseDay } from '../../src/domain/days.js';
import { loadPriceCard } from '../../src/domain/prices.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import { simulateDay, type SimulationOptions } from '../../src/simulator/simulate.js';
import { isolatedServices } from '../helpers/storage.js';
import { readFileSync } from 'node:fs';

const prices = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')));
const WORKLOAD: SimulationOptions = { date: '2026-12-05', pods: 6, seed: 9, requests: 3000 };
const ndjson = (options: SimulationOptions): string =>
  [...simulateDay(options)].map((e) => `${JSON.stringify(e.json)}\n`).join('');

/** A stored day's report, as the daily run stores it, for the traffic. */
async function storeDay(reports: MemoryReportStore, date: string): Promise<void> {
  const accumulator = new EventAccumulator(prices);
  for (const event of simulateDay({ date, pods: 6, seed: 3, requests: 5000 }))
    accumulator.add(parseRecordText(JSON.stringify(event.json), accumulator.intern));
  const day = parseDay(date);
  if (day === undefined) throw new Error(date);
  const report = buildReport({
    date,
    dayStart: day.start,
    dayEnd: day.end,
    usage: accumulator.usage(),
    capacity: accumulator.capacity(),
    counts: accumulator.counts,
    prices,
    weighting: DEFAULT_WEIGHTING,
    idle: 'separate',
    revision: 1,
    generatedAt: `${date}T23:59:00Z`,
  });
  await reports.write(
    date,
    { csv: report.csv, summary: report.summary, metrics: report.metrics },
    { revision: 1, ledgerAsOf: '' },
  );
}

function handler(runs: MemoryRunStore, reports: MemoryReportStore) {
  return makeCostGate(() =>
    Promise.resolve({
      runs,
      reports,
      prices,
      weighting: DEFAULT_WEIGHTING,
      now: () => new Date('2026-12-06T08:00:00Z'),
    }),
  );
}

const post = (body: unknown) =>
  new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/cost-gate',
    body: { string: typeof body === 'string' ? body : JSON.stringify(body) },
  });

describe('POST /api/cost-gate', () => {
  it('judges runs uploaded under runs/ against the stored days: 200 for a pass, 409 with reasons for a fail', async () => {
    const reports = new MemoryReportStore();
    await storeDay(reports, '2026-12-04');
    await storeDay(reports, '2026-12-05');
    const runs = new MemoryRunStore();
    runs.put('runs/build-7/baseline/events.ndjson', ndjson(WORKLOAD));
    runs.put(
      'runs/build-7/candidate/part-1.ndjson',
      ndjson({ ...WORKLOAD, variant: { promptScale: { 'summarize-docs': 4 } } }),
    );
    runs.put('runs/build-7/same/a.jsonl', ndjson(WORKLOAD));
    const gate = handler(runs, reports);
    const same = await gate(
      post({ baseline: 'runs/build-7/baseline', candidate: 'runs/build-7/same', minRequests: 5 }),
      quietContext(),
    );
    expect(same.status).toBe(200);
    expect(same.jsonBody).toMatchObject({
      verdict: 'pass',
      changeMonthlyUsd: '0.000000',
      trafficDays: ['2026-12-04', '2026-12-05'],
      refusedLines: 0,
    });
    const longer = await gate(
      post({
        baseline: 'runs/build-7/baseline',
        candidate: 'runs/build-7/candidate',
        minRequests: 5,
        maxIncreasePct: 0,
      }),
      quietContext(),
    );
    expect(longer.status).toBe(409);
    const body = longer.jsonBody as { verdict: string; reasons: string[]; markdown: string };
    expect(body.verdict).toBe('fail');
    expect(body.reasons[0]).toMatch(/^the projected monthly GPU cost rises \+\d+\.\d%, above the 0% limit$/);
    expect(body.markdown).toContain('| summarize\\-docs |');
  });

  it("judges one model's groups with model in the body, as cost-gate --model does", async () => {
    const reports = new MemoryReportStore();
    await storeDay(reports, '2026-12-05');
    const runs = new MemoryRunStore();
    const llama = ndjson(WORKLOAD)
      .split('\n')
      .filter((line) => line.includes('"model":"llama-3.1-8b-instruct"'))
      .join('\n');
    runs.put('runs/canary/baseline/events.ndjson', llama);
    runs.put('runs/canary/candidate/events.ndjson', llama);
    const gate = handler(runs, reports);
    const body = { baseline: 'runs/canary/baseline', candidate: 'runs/canary/candidate', minRequests: 5 };
    expect((await gate(post(body), quietContext())).status).toBe(409);
    const judged = await gate(post({ ...body, model: 'llama-3.1-8b-instruct' }), quietContext());
    expect(judged.status).toBe(200);
    const json = judged.jsonBody as { judgedModel: string; groups: { model: string }[] };
    expect(json.judgedModel).toBe('llama-3.1-8b-instruct');
    expect(json.groups.every((g) => g.model === 'llama-3.1-8b-instruct')).toBe(true);
    const none = await gate(post({ ...body, model: 'mistral-7b' }), quietContext());
    expect(none.status).toBe(409);
    expect((none.jsonBody as { reasons: string[] }).reasons).toEqual([
      'model mistral-7b has no real traffic in the 1 day(s) found: there is nothing to project its runs onto',
    ]);
  });

  it('refuses a bad body, a folder outside runs/, and an empty run, naming what is wrong', async () => {
    const gate = handler(new MemoryRunStore(), new MemoryReportStore());
    const cases: [unknown, string][] = [
      ['not json', 'the body must be JSON'],
      [{ baseline: 'runs/a', candidate: '../ledger/x' }, 'candidate: must be a folder under runs/'],
      [{ baseline: 'runs/a/../../x', candidate: 'runs/b' }, 'baseline: must be a folder under runs/'],
      [{ baseline: 'runs/a', candidate: 'runs/b', days: 0 }, 'days:'],
      [{ baseline: 'runs/a', candidate: 'runs/b', extra: 1 }, 'body:'],
      [{ baseline: 'runs/a', candidate: 'runs/b', model: '' }, 'model: must name a model'],
      [{ baseline: 'runs/a', candidate: 'runs/b' }, 'baseline: no *.ndjson or *.jsonl file under runs/a'],
    ];
    for (const [body, error] of cases) {
      const response = await gate(post(body), quietContext());
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((response.jsonBody as { error: string }).error).toContain(error);
    }
  });

  it('reads runs from Blob Storage (Azurite), and refuses one that is not UTF-8', async () => {
    const s = await isolatedServices();
    const container = storageClients(s.config).blobs.getContainerClient(s.config.reportsContainer);
    const text = ndjson({ ...WORKLOAD, requests: 500 });
    await container.getBlockBlobClient('runs/x/base/1.ndjson').upload(text, Buffer.byteLength(text));
    await container.getBlockBlobClient('runs/x/base/notes.txt').upload('ignored', 7);
    await container.getBlockBlobClient('runs/x/bad/1.ndjson').upload(Buffer.from([0x7b, 0xff, 0x7d]), 3);
    expect(await s.runs.files('runs/x/base')).toEqual(['runs/x/base/1.ndjson']);
    expect(await s.runs.text('runs/x/base/1.ndjson')).toBe(text);
    await expect(s.runs.text('runs/x/bad/1.ndjson')).rejects.toThrow('runs/x/bad/1.ndjson is not UTF-8');
  });
});
