import { describe, expect, it } from 'vitest';
import { makeGetReportPage } from '../../functions/getReport.js';
import { HttpRequest, quietContext } from '../../dev/functions-runtime.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import { dayPagePath, monthlyPaths } from '../../src/ports/report-store.js';
import { loadConfig } from '../../src/composition/config.js';

const DAY = '2026-11-22';
const PAGE = '<!doctype html><title>day</title>';

async function pages(signIn: 'none' | 'entra') {
  const reports = new MemoryReportStore();
  await reports.writeDocument(dayPagePath(DAY), PAGE);
  await reports.writeDocument(monthlyPaths('2026-11').html, '<!doctype html><title>month</title>');
  const page = makeGetReportPage(() => Promise.resolve({ reports, config: { pageSignIn: signIn } }));
  return (date: string, headers: Record<string, string> = {}) =>
    page(
      new HttpRequest({
        method: 'GET',
        url: `http://localhost/api/pages/${date}`,
        params: { date },
        headers,
      }),
      quietContext(),
    );
}

const signedIn = { 'x-ms-client-principal-id': '00000000-0000-0000-0000-000000000001' };

describe('getReportPage', () => {
  it("serves the day's and the month's page to a request App Service signed in, never cached", async () => {
    const get = await pages('entra');
    const day = await get(DAY, signedIn);
    expect(day.status).toBe(200);
    expect(day.body).toBe(PAGE);
    expect(day.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'private, no-store',
    });
    const month = await get('2026-11', signedIn);
    expect(month.body as string).toContain('month');
  });

  it('sends a request without a signed-in principal to the sign-in page and back to the same page', async () => {
    const get = await pages('entra');
    const answer = await get(DAY, { 'x-ms-client-principal-id': '' });
    expect(answer.status).toBe(302);
    expect(answer.body).toBeUndefined();
    expect((answer.headers as Record<string, string>).location).toBe(
      `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(`/api/pages/${DAY}`)}`,
    );
  });

  it('serves nothing without PAGE_SIGN_IN=entra, whatever headers a client sends', async () => {
    const get = await pages('none');
    const answer = await get(DAY, signedIn);
    expect(answer.status).toBe(404);
    expect(JSON.stringify(answer.jsonBody)).toContain('PAGE_SIGN_IN=entra');
  });

  it('refuses a date that is neither a day nor a month, and says so for a day without a page', async () => {
    const get = await pages('entra');
    expect((await get('../x', signedIn)).status).toBe(400);
    const missing = await get('2026-11-21', signedIn);
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.jsonBody)).toContain('2026-11-21');
  });
});

describe('the card button with the app sign-in', () => {
  const base = { LEDGER_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' };
  it("points at the app's own page route when PAGE_SIGN_IN=entra and no REPORT_LINK_BASE is set", () => {
    const config = loadConfig({
      ...base,
      PAGE_SIGN_IN: 'entra',
      WEBSITE_HOSTNAME: 'func-x.azurewebsites.net',
    });
    expect(config.reportLinkBase).toBe('https://func-x.azurewebsites.net/api/pages/');
  });
  it('keeps an explicit REPORT_LINK_BASE, and has no button without sign-in', () => {
    const explicit = loadConfig({
      ...base,
      PAGE_SIGN_IN: 'entra',
      WEBSITE_HOSTNAME: 'func-x.azurewebsites.net',
      REPORT_LINK_BASE: 'https://reports.example.com/d/',
    });
    expect(explicit.reportLinkBase).toBe('https://reports.example.com/d/');
    expect(
      loadConfig({ ...base, WEBSITE_HOSTNAME: 'func-x.azurewebsites.net' }).reportLinkBase,
    ).toBeUndefined();
  });
  it('refuses a PAGE_SIGN_IN it does not know', () => {
    expect(() => loadConfig({ ...base, PAGE_SIGN_IN: 'yes' })).toThrow(/PAGE_SIGN_IN/);
  });
});
