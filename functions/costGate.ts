import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { services } from '../src/composition/composition.js';
import { PermanentError } from '../src/domain/errors.js';
import { gateRuns, parseCostGateRequest, type GateRunsDeps } from '../src/usecases/costgate/gate-runs.js';

/**
 * POST /api/cost-gate (function key): the release cost gate on runs uploaded to the reports
 * container under `runs/`, projected onto the stored daily metrics of the last N days, for
 * pipelines that would rather call than install. Body: `{"baseline": "runs/<build>/baseline",
 * "candidate": "runs/<build>/candidate", "days": 28, "maxIncreasePct": 5, "minRequests": 20}`.
 * 200 with the pass verdict, 409 with the fail verdict and its reasons (fail closed), 400 for a bad
 * body or unreadable run. The verdict JSON is the command line's cost-gate.json, plus `markdown`.
 */
export function makeCostGate(deps: () => Promise<GateRunsDeps>) {
  return async function costGate(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return { status: 400, jsonBody: { error: 'the body must be JSON' } };
    }
    const parsed = parseCostGateRequest(body);
    if ('error' in parsed) return { status: 400, jsonBody: { error: parsed.error } };
    let outcome;
    try {
      outcome = await gateRuns(parsed, await deps());
    } catch (error) {
      if (error instanceof PermanentError) return { status: 400, jsonBody: { error: error.message } };
      throw error;
    }
    context.log(
      JSON.stringify({
        function: 'costGate',
        verdict: outcome.result.verdict,
        reasons: outcome.result.reasons.length,
        refusedLines: outcome.refusedCount,
      }),
    );
    return {
      status: outcome.result.verdict === 'pass' ? 200 : 409,
      headers: { 'cache-control': 'no-store' },
      jsonBody: {
        ...(JSON.parse(outcome.json) as Record<string, unknown>),
        refusedLines: outcome.refusedCount,
        refused: outcome.refused,
        markdown: outcome.markdown,
      },
    };
  };
}

export const costGate = makeCostGate(async () => {
  const s = await services();
  return { runs: s.runs, reports: s.reports, prices: s.prices, weighting: s.weighting, now: s.now };
});

app.http('costGate', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'cost-gate',
  handler: costGate,
});
