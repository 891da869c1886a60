import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { services } from '../src/composition/composition.js';
import { promotionStore } from '../src/composition/promotion.js';
import type { PromotionStore } from '../src/ports/promotion-store.js';

export interface GetPromotionDeps {
  readonly store: Pick<PromotionStore, 'latest'>;
}

/**
 * GET /api/promotions/{model}: the model's last promotion verdict (contracts.md §16). 200 with it
 * when it is `promote`, 409 when it is `hold` (its reasons in the body), 404 when the model has
 * none: a release pipeline asking whether a candidate may go out is told no unless it was promoted.
 */
export function makeGetPromotion(deps: () => Promise<GetPromotionDeps>) {
  return async function getPromotion(
    request: HttpRequest,
    _context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const model = request.params.model ?? '';
    if (model === '' || model.length > 256)
      return { status: 400, jsonBody: { error: 'model must be a model name of 1 to 256 characters' } };
    const verdict = await (await deps()).store.latest(model);
    if (verdict === undefined)
      return {
        status: 404,
        headers: { 'cache-control': 'no-store' },
        jsonBody: { error: `no promotion verdict for model ${model}` },
      };
    return {
      status: verdict.decision === 'promote' ? 200 : 409,
      headers: { 'cache-control': 'no-store' },
      jsonBody: verdict,
    };
  };
}

export const getPromotion = makeGetPromotion(async () => ({ store: promotionStore(await services()) }));

app.http('getPromotion', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'promotions/{model}',
  handler: getPromotion,
});
