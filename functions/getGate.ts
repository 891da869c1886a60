import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { qualityDeps, services } from '../src/composition/composition.js';
import { judge } from '../src/domain/gate/judge.js';
import type { RulesOrError } from '../src/usecases/quality/evaluate.js';
import type { QualityStore } from '../src/ports/quality-store.js';

export interface GetGateDeps {
  readonly quality: Pick<QualityStore, 'evaluations'>;
  readonly rules: RulesOrError;
  readonly now: () => Date;
}

/**
 * GET /api/gates/{model}: the gate judged now, from the stored history (contracts.md §10 verdict JSON). A
 * release pipeline asks before deploying: 200 with `pass`, 409 with `fail` and its reasons. It is
 * judged at the request, not read from the last stored verdict, so a gate that went stale since the
 * last timer tick is already red here. Fails closed: an unknown model, no history or no rules is 409.
 */
export function makeGetGate(deps: () => Promise<GetGateDeps>) {
  return async function getGate(
    request: HttpRequest,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const model = request.params.model ?? '';
    if (model === '' || model.length > 256)
      return { status: 400, jsonBody: { error: 'model must be a model name of 1 to 256 characters' } };
    const d = await deps();
    const j = judge(model, await d.quality.evaluations(model), d.rules, d.now().getTime() * 1000);
    return {
      status: j.verdict.verdict === 'pass' ? 200 : 409,
      headers: { 'cache-control': 'no-store' },
      jsonBody: { ...j.verdict, judgedAt: j.at },
    };
  };
}

export const getGate = makeGetGate(async () => qualityDeps(await services()));

app.http('getGate', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'gates/{model}',
  handler: getGate,
});
