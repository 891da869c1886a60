import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { restateDeps, services } from '../src/composition/composition.js';
import {
  requestRestatement,
  restateRange,
  RestateRequestError,
  type RestateDeps,
} from '../src/usecases/restate/restate.js';

/**
 * POST /api/ops/restate?date=YYYY-MM-DD[&to=YYYY-MM-DD][&refit=true], or the same as a JSON body
 * `{"date": ..., "to": ..., "refit": true}`: marks the days for restatement and queues them for
 * `reportDay`. `refit` (with WEIGHTING=calibrated) fits the days' step costs anew instead of
 * keeping the constants stored with them.
 * Answers 202 with the queued days; the reports follow as the queue is worked off.
 */
export function makeRestate(deps: () => Promise<RestateDeps>) {
  return async function restate(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    let body: { date?: unknown; to?: unknown; refit?: unknown } = {};
    const text = await request.text();
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        return {
          status: 400,
          jsonBody: { error: 'the body must be JSON: {"date": "YYYY-MM-DD", "to"?: "YYYY-MM-DD"}' },
        };
      }
    }
    const date = request.query.get('date') ?? (typeof body.date === 'string' ? body.date : undefined);
    const to = request.query.get('to') ?? (typeof body.to === 'string' ? body.to : undefined);
    const refitText = request.query.get('refit');
    const refit =
      refitText === null
        ? body.refit
        : refitText === 'true'
          ? true
          : refitText === 'false'
            ? false
            : refitText;
    if (refit !== undefined && typeof refit !== 'boolean')
      return { status: 400, jsonBody: { error: 'refit must be true or false' } };
    if (date === undefined)
      return {
        status: 400,
        jsonBody: { error: 'give the day as date=YYYY-MM-DD (and to=YYYY-MM-DD for a range)' },
      };
    const d = await deps();
    let days: string[];
    try {
      days = restateRange(date, to, d.now());
    } catch (error) {
      if (error instanceof RestateRequestError) return { status: 400, jsonBody: { error: error.message } };
      throw error;
    }
    const queued = await requestRestatement(days, d, { refit: refit === true });
    context.log(JSON.stringify({ function: 'restate', queued: days, ...(refit === true ? { refit } : {}) }));
    return {
      status: 202,
      jsonBody: { queued: queued.map((m) => m.day), requestedAt: queued[0]?.requestedAt },
    };
  };
}

export const restate = makeRestate(async () => restateDeps(await services()));

app.http('restate', {
  methods: ['POST'],
  // The master key only: restating rewrites reports. The route cannot start with `admin`, which the
  // Functions host reserves for its own API, hence `ops/`.
  authLevel: 'admin',
  route: 'ops/restate',
  handler: restate,
});
