import { describe, expect, it } from 'vitest';
import { MemoryOutbox } from '../../../src/adapters/memory/memory-outbox.js';
import { MemoryPromotionStore } from '../../../src/adapters/memory/memory-promotion-store.js';
import type { TeamsMessage } from '../../../src/domain/teams/message.js';
import { publishPromotion } from '../../../src/usecases/quality/promotion.js';
import { verdict } from '../../helpers/promotion.js';

function deps() {
  const posted: TeamsMessage[] = [];
  const store = new MemoryPromotionStore();
  return {
    posted,
    store,
    deps: {
      store,
      notifier: {
        post: (m: TeamsMessage) => {
          posted.push(m);
          return Promise.resolve();
        },
      },
      outbox: new MemoryOutbox(),
      now: () => new Date('2026-03-02T05:00:00Z'),
      log: () => undefined,
    },
  };
}

describe('publishPromotion', () => {
  it('stores the verdict and posts one Adaptive Card per decision', async () => {
    const { posted, store, deps: d } = deps();
    expect(await publishPromotion(verdict(), d)).toBe(true);
    expect(await publishPromotion(verdict({ decidedAt: '2026-03-02T03:00:00.000Z' }), d)).toBe(false);
    expect(posted).toHaveLength(1);
    const card = JSON.stringify(posted[0]);
    expect(card).toContain('application/vnd.microsoft.card.adaptive');
    expect(card).toContain('Hold llama-3.1-8b-instruct version 8');
    expect(card).toMatch(/cost gate: up 9% .{1,8} 5%/); // the card's text is escaped for Teams' Markdown
    expect((await store.latest('llama-3.1-8b-instruct'))?.decidedAt).toBe('2026-03-02T03:00:00.000Z');
    await publishPromotion(
      verdict({ decision: 'promote', reasons: [], decidedAt: '2026-03-02T04:00:00.000Z' }),
      d,
    );
    expect(posted).toHaveLength(2);
    expect(JSON.stringify(posted[1])).toContain('Promote llama-3.1-8b-instruct version 8: both gates passed');
  });

  it('records the verdict without Teams configured', async () => {
    const { store, deps: d } = deps();
    await publishPromotion(verdict(), { ...d, notifier: undefined });
    expect(await store.latest('llama-3.1-8b-instruct')).toEqual(verdict());
  });
});
