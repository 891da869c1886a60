import { describe, expect, it } from 'vitest';
import { makeGetRequest } from '../../functions/getRequest.js';
import { HttpRequest, quietContext } from '../../dev/functions-runtime.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { runDay, capacity, usage, DAY } from '../helpers/events.js';
import { buildRequestFile } from '../../src/usecases/requests/request-file.js';
import { parseRequestIndex } from '../../src/ports/request-store.js';

async function store() {
  const reports = new MemoryReportStore();
  const day = runDay(
    [
      capacity(),
      usage({ requestId: 'r-1' }),
      // Another tenant that chose the same id, and one id only that tenant used.
      usage({ requestId: 'r-1', tenant: 'bob' }),
      usage({ requestId: 'r-bob', tenant: 'bob' }),
      usage({ requestId: 'r-ecole', tenant: 'e\u0301cole' }),
    ],
    { keepRequests: true },
  );
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

async function get(
  reports: MemoryReportStore,
  id: string,
  date: string | undefined,
  tenant: string | null = 'acme',
) {
  const handler = makeGetRequest(() => Promise.resolve({ reports }));
  const params = new URLSearchParams();
  if (date !== undefined) params.set('date', date);
  if (tenant !== null) params.set('tenant', tenant);
  const query = params.size === 0 ? '' : `?${params.toString()}`;
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
      tenant: 'acme',
      date: DAY,
      attempts: [{ requestId: 'r-1', tenant: 'acme' }],
    });
  });

  it('answers 404 naming the id, the tenant and the date', async () => {
    const response = await get(await store(), 'nope', DAY);
    expect(response.status).toBe(404);
    expect(response.jsonBody).toEqual({ error: `no request nope of tenant acme on ${DAY}` });
  });

  it("shows only the asking tenant's attempts under an id another tenant also used", async () => {
    const reports = await store();
    const acme = await get(reports, 'r-1', DAY, 'acme');
    const bob = await get(reports, 'r-1', DAY, 'bob');
    expect((acme.jsonBody as { attempts: { tenant: string }[] }).attempts.map((a) => a.tenant)).toEqual([
      'acme',
    ]);
    expect((bob.jsonBody as { attempts: { tenant: string }[] }).attempts.map((a) => a.tenant)).toEqual([
      'bob',
    ]);
  });

  it('answers an id only another tenant used exactly as an unknown id (404, nothing of the other)', async () => {
    const reports = await store();
    const other = await get(reports, 'r-bob', DAY, 'acme');
    const unknown = await get(reports, 'r-none', DAY, 'acme');
    expect([other.status, unknown.status]).toEqual([404, 404]);
    expect(other.jsonBody).toEqual({ error: `no request r-bob of tenant acme on ${DAY}` });
    expect(JSON.stringify(other.jsonBody).replace('r-bob', 'r-none')).toBe(JSON.stringify(unknown.jsonBody));
  });

  it('finds a tenant however its name is spelled (the file holds it in NFC)', async () => {
    const response = await get(await store(), 'r-ecole', DAY, '\u00e9cole');
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ tenant: '\u00e9cole', attempts: [{ tenant: '\u00e9cole' }] });
  });

  it('answers 400 without a tenant, or with one the names rule refuses', async () => {
    const none = await get(await store(), 'r-1', DAY, null);
    expect(none.status).toBe(400);
    expect(JSON.stringify(none.jsonBody)).toContain('tenant is required');
    const bad = await get(await store(), 'r-1', DAY, 'acme\u202e');
    expect(bad.status).toBe(400);
    expect(bad.jsonBody).toEqual({ error: 'tenant: must not contain U+202E (bidirectional control)' });
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

  it.each([
    ['{"version":1,"blocks":[]}', 'version 1'],
    ['{"version":2', 'not JSON'],
  ])('answers 409 saying to restate the day when its per-request index is %s', async (text, what) => {
    const reports = {
      requests: () =>
        Promise.resolve({
          index: () => Promise.resolve(parseRequestIndex(text)),
          range: () => Promise.resolve(new Uint8Array()),
        }),
    };
    const handler = makeGetRequest(() => Promise.resolve({ reports }));
    const response = await handler(
      new HttpRequest({
        method: 'GET',
        url: `http://localhost/api/requests/r-1?date=${DAY}&tenant=acme`,
        params: { id: 'r-1' },
      }),
      quietContext(),
    );
    expect(response.status).toBe(409);
    expect(JSON.stringify(response.jsonBody)).toContain(what);
    expect(JSON.stringify(response.jsonBody)).toContain('restate the day');
  });
});
