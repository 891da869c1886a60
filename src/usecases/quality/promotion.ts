/**
 * Where a promotion verdict goes once decided (contracts.md §16): the store (the model's last
 * verdict, for GET /api/promotions/{model}) and, the first time that decision is recorded, one
 * Teams card through the outbox. Deciding again on the same evidence posts nothing.
 */
import { promotionMessage } from '../../domain/promotion/card.js';
import type { PromotionVerdict } from '../../domain/promotion/decide.js';
import type { MessageContext } from '../../domain/teams/message.js';
import type { Notifier } from '../../ports/notifier.js';
import type { Outbox } from '../../ports/outbox.js';
import type { PromotionStore } from '../../ports/promotion-store.js';
import { post } from './notices.js';

export interface PublishDeps {
  readonly store: PromotionStore;
  readonly notifier: Notifier | undefined;
  readonly outbox: Outbox;
  readonly now: () => Date;
  readonly log: (message: string) => void;
  readonly card?: MessageContext;
}

/** Records the verdict; posts its card when the decision is new. Returns whether it was. */
export async function publishPromotion(verdict: PromotionVerdict, deps: PublishDeps): Promise<boolean> {
  const isNew = await deps.store.record(verdict);
  if (isNew)
    await post(
      `promotion/${verdict.model}/${verdict.candidateVersion}/${verdict.decision}/${verdict.decidedAt}`,
      promotionMessage(verdict, deps.card),
      deps,
    );
  return isNew;
}
