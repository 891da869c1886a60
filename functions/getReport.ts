import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { services } from '../src/composition/composition.js';
import { isMonth, parseDay } from '../src/domain/days.js';
import { dayPagePath, monthlyPaths, type ReportStore } from '../src/ports/report-store.js';

type Kind = 'csv' | 'json' | 'html' | 'focus';

/**
 * GET /api/reports/{date}: a day (YYYY-MM-DD) or a month (YYYY-MM). The CSV by default, the summary
 * with `Accept: application/json`, the report page with `Accept: text/html` (what a browser sends,
 * so a link to this route, such as a Teams card's, opens the page); `?format=focus` for the same
 * charges in the FOCUS format (contracts.md §15).
 */
export function makeGetReport(deps: () => Promise<{ reports: ReportStore }>) {
  return async function getReport(
    request: HttpRequest,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const date = request.params.date ?? '';
    const month = isMonth(date);
    if (!month && parseDay(date) === undefined) return badDate(date);
    const { reports } = await deps();
    const accept = request.headers.get('accept') ?? '';
    const format = request.query.get('format');
    if (format !== null && format !== 'focus')
      return {
        status: 400,
        jsonBody: { error: `format must be "focus" or left out, got "${format.slice(0, 40)}"` },
      };
    const kind: Kind =
      format === 'focus'
        ? 'focus'
        : accept.includes('application/json')
          ? 'json'
          : accept.includes('text/html')
            ? 'html'
            : 'csv';
    const body = month ? await monthFile(reports, date, kind) : await dayFile(reports, date, kind);
    if (body === undefined)
      return {
        status: 404,
        jsonBody: {
          error: `no chargeback ${kind === 'html' ? 'report page' : kind === 'focus' ? 'FOCUS file' : 'report'} for ${date}`,
        },
      };
    return { status: 200, headers: headers(kind, date), body };
  };
}

/** 400 for a route's date that is neither a calendar day nor a month. */
function badDate(date: string): HttpResponseInit {
  return {
    status: 400,
    jsonBody: {
      error: `date must be a calendar day YYYY-MM-DD or a month YYYY-MM, got "${date.slice(0, 40)}"`,
    },
  };
}

async function dayFile(reports: ReportStore, day: string, kind: Kind): Promise<string | undefined> {
  if (kind === 'json') return await reports.summary(day);
  if (kind === 'html') return await reports.document(dayPagePath(day));
  if (kind === 'focus') return await reports.focus(day);
  return await reports.csv(day);
}

async function monthFile(reports: ReportStore, month: string, kind: Kind): Promise<string | undefined> {
  const paths = monthlyPaths(month);
  const path =
    kind === 'json'
      ? paths.summary
      : kind === 'html'
        ? paths.html
        : kind === 'focus'
          ? paths.focus
          : paths.csv;
  return await reports.document(path);
}

function headers(kind: Kind, date: string): Record<string, string> {
  if (kind === 'json') return { 'content-type': 'application/json' };
  if (kind === 'html')
    return {
      'content-type': 'text/html; charset=utf-8',
      // The page needs nothing from anywhere: say so to the browser too.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    };
  return {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${kind === 'focus' ? 'focus' : 'chargeback'}-${date}.csv"`,
  };
}

/**
 * GET /api/pages/{date}: the day's or month's page, for a colleague following a drift card's
 * button. No function key (a link cannot carry one): with PAGE_SIGN_IN=entra, App Service
 * authentication runs in front of the app, and a request it signed in carries
 * `x-ms-client-principal-id`, which App Service sets itself and never passes through from a client.
 * Anyone else is sent to the sign-in page and back. With PAGE_SIGN_IN=none the route serves nothing.
 */
export function makeGetReportPage(
  deps: () => Promise<{ reports: ReportStore; config: { pageSignIn: string } }>,
) {
  return async function getReportPage(
    request: HttpRequest,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const { reports, config } = await deps();
    if (config.pageSignIn !== 'entra')
      return {
        status: 404,
        jsonBody: {
          error:
            'report pages are served here only behind App Service sign-in (PAGE_SIGN_IN=entra); use /api/reports/{date} with a function key',
        },
      };
    const date = request.params.date ?? '';
    const month = isMonth(date);
    if (!month && parseDay(date) === undefined) return badDate(date);
    const principal = request.headers.get('x-ms-client-principal-id') ?? '';
    if (principal === '') {
      const back = `/api/pages/${date}`;
      return {
        status: 302,
        headers: { location: `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(back)}` },
      };
    }
    const body = month ? await monthFile(reports, date, 'html') : await dayFile(reports, date, 'html');
    if (body === undefined)
      return { status: 404, jsonBody: { error: `no chargeback report page for ${date}` } };
    return { status: 200, headers: { ...headers('html', date), 'cache-control': 'private, no-store' }, body };
  };
}

export const getReport = makeGetReport(services);
export const getReportPage = makeGetReportPage(services);

app.http('getReport', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'reports/{date}',
  handler: getReport,
});

app.http('getReportPage', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'pages/{date}',
  handler: getReportPage,
});
