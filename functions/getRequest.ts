import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { services } from '../src/composition/composition.js';
import { parseDay } from '../src/domain/days.js';
import { PermanentError } from '../src/domain/errors.js';
import { readLabel } from '../src/domain/text.js';
import type { ReportStore } from '../src/ports/report-store.js';
import { explainRequest } from '../src/usecases/requests/explain.js';

/**
 * GET /api/requests/{id}?date=YYYY-MM-DD&tenant=T: what one request of tenant T cost that day and
 * why, as `chargeback explain --json` prints it. The tenant is part of the lookup (clients choose
 * their request ids, and two tenants may choose the same one): only T's attempts are shown, and an
 * id that only other tenants used answers 404 exactly as an unknown one does. 404 names the id, the
 * tenant and the date (and says when the day has no per-request costs at all); 400 for a missing or
 * bad date or tenant; 409 when the day's per-request file is damaged or of an older layout (the
 * message says to restate the day).
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
    const given = request.query.get('tenant');
    if (given === null)
      return {
        status: 400,
        jsonBody: { error: 'tenant is required in ?tenant=: request ids are looked up per tenant' },
      };
    // The file holds tenants in NFC (src/domain/text.ts): école finds école however it was typed.
    const read = readLabel(given);
    if ('error' in read) return { status: 400, jsonBody: { error: `tenant: ${read.error}` } };
    const tenant = read.value;
    const source = await (await deps()).reports.requests(date);
    if (source === undefined)
      return {
        status: 404,
        jsonBody: {
          error: `no request ${id} of tenant ${tenant} on ${date}: the day has no per-request costs`,
        },
      };
    let explanation: Awaited<ReturnType<typeof explainRequest>>;
    try {
      explanation = await explainRequest(source, date, tenant, id);
    } catch (error) {
      // A damaged or outdated per-request file: the day must be restated, not the call retried.
      if (error instanceof PermanentError)
        return { status: 409, jsonBody: { error: `request costs of ${date}: ${error.message}` } };
      throw error;
    }
    if (explanation.attempts.length === 0)
      return { status: 404, jsonBody: { error: `no request ${id} of tenant ${tenant} on ${date}` } };
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
