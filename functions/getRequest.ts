import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { services } from '../src/composition/composition.js';
import { parseDay } from '../src/domain/days.js';
import type { ReportStore } from '../src/ports/report-store.js';
import { explainRequest } from '../src/usecases/requests/explain.js';

/**
 * GET /api/requests/{id}?date=YYYY-MM-DD: what one request cost that day and why, as
 * `chargeback explain --json` prints it. 404 names the id and the date (and says when the day has
 * no per-request costs at all); 400 for a missing or bad date.
 */
export function makeGetRequest(deps: () => Promise<{ reports: Pick<ReportStore, 'requests'> }>) {
  return async function getRequest(
    request: HttpRequest,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const id = request.params.id ?? '';
    const date = request.query.get('date') ?? '';
    if (parseDay(date) === undefined)
      return {
        status: 400,
        jsonBody: { error: `date must be a calendar day YYYY-MM-DD in ?date=, got "${date.slice(0, 40)}"` },
      };
    if (id === '' || id.length > 1024)
      return { status: 400, jsonBody: { error: 'the request id must be 1 to 1024 characters' } };
    const source = await (await deps()).reports.requests(date);
    if (source === undefined)
      return {
        status: 404,
        jsonBody: { error: `no request ${id} on ${date}: the day has no per-request costs` },
      };
    const explanation = await explainRequest(source, date, id);
    if (explanation.attempts.length === 0)
      return { status: 404, jsonBody: { error: `no request ${id} on ${date}` } };
    return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: explanation };
  };
}

export const getRequest = makeGetRequest(services);

app.http('getRequest', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'requests/{id}',
  handler: getRequest,
});
