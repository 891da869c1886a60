import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { services } from '../src/composition/composition.js';
import { parseDay } from '../src/domain/days.js';
import type { ReportStore } from '../src/ports/report-store.js';

/** GET /api/reports/{date}: the day's CSV, or its summary with `Accept: application/json`. */
export function makeGetReport(deps: () => Promise<{ reports: ReportStore }>) {
  return async function getReport(
    request: HttpRequest,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const date = request.params.date ?? '';
    if (parseDay(date) === undefined) {
      return {
        status: 400,
        jsonBody: { error: `date must be a calendar day YYYY-MM-DD, got "${date.slice(0, 40)}"` },
      };
    }
    const { reports } = await deps();
    const wantsJson = (request.headers.get('accept') ?? '').includes('application/json');
    const body = wantsJson ? await reports.summary(date) : await reports.csv(date);
    if (body === undefined) return { status: 404, jsonBody: { error: `no chargeback report for ${date}` } };
    return wantsJson
      ? { status: 200, headers: { 'content-type': 'application/json' }, body }
      : {
          status: 200,
          headers: {
            'content-type': 'text/csv; charset=utf-8',
            'content-disposition': `attachment; filename="chargeback-${date}.csv"`,
          },
          body,
        };
  };
}

export const getReport = makeGetReport(services);

app.http('getReport', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'reports/{date}',
  handler: getReport,
});
