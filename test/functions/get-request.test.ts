import { describe, expect, it } from 'vitest';
import { makeGetRequest } from '../../functions/getRequest.js';
import { HttpRequest, quietContext } from '../../dev/functions-runtime.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { runDay, capacity, usage, DAY } from '../helpers/events.js';
import { buildRequestFile } from '../../src/usecases/requests/request-file.js';

async function store() {
  const reports = new MemoryReportStore();
  const day = runDay([capacity(), usage({ requestId: 'r-1' })], { keepRequests: true });
  await reports.write(
    DAY,
    {
      csv: day.csv,
      summary: day.summary,
      metrics: day.metrics,
      requests: await buildRequestFile(DAY, 1, day.result.requestCosts ?? []),
    },
    { revision: 1, ledgerAsOf: '' },
  );
  return reports;
}

async function get(reports: MemoryReportStore, id: string, date: string | undefined) {
  const handler = makeGetRequest(() => Promise.resolve({ reports }));
  const query = date === undefined ? '' : `?date=${date}`;
  return handler(
    new HttpRequest({ method: 'GET', url: `http://localhost/api/requests/${id}${query}`, params: { id } }),
    quietContext(),
  );
}

describe('GET /api/requests/{id}', () => {
  it('answers 200 with the explanation', async () => {
    const response = await get(await store(), 'r-1', DAY);
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({
      requestId: 'r-1',
      date: DAY,
      attempts: [{ requestId: 'r-1' }],
    });
  });

  it('answers 404 naming the id and the date', async () => {
    const response = await get(await store(), 'nope', DAY);
    expect(response.status).toBe(404);
    expect(response.jsonBody).toEqual({ error: `no request nope on ${DAY}` });
  });

  it('answers 404 for a day with no per-request costs, saying so', async () => {
    const response = await get(await store(), 'r-1', '2026-11-01');
    expect(response.status).toBe(404);
    expect(JSON.stringify(response.jsonBody)).toContain('no per-request costs');
  });

  it('answers 400 without a date', async () => {
    expect((await get(await store(), 'r-1', undefined)).status).toBe(400);
    expect((await get(await store(), 'r-1', '2026-13-01')).status).toBe(400);
  });
});
