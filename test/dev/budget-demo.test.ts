import { describe, expect, inject, it } from 'vitest';
import { budgetDemo } from '../../dev/budget-demo.js';
import { startTeamsStandIn, cardInShort } from '../../dev/teams-stand-in.js';

describe('the budget demo of npm start', () => {
  it('crosses one budget: cards at 80% and 100%, then the 429', async () => {
    const teams = await startTeamsStandIn();
    try {
      const lines: string[] = [];
      const result = await budgetDemo(inject('azurite'), teams.url, (l) => lines.push(l));
      expect(result.served).toBe(5);
      expect(result.cards.map((c) => c.split('|').at(-1))).toEqual(['0.8', '1']);
      expect(JSON.parse(result.refusal ?? '{}')).toMatchObject({
        error: { type: 'budget_exceeded', scope: { tenant: 'contoso' }, limitUsd: 0.05 },
      });
      expect(teams.received.map((c) => cardInShort(c)[0])).toEqual([
        'Budget 80% reached: tenant contoso',
        'Budget 100% reached: tenant contoso',
      ]);
      expect(lines.at(-1)).toMatch(/^request 6: 429, Retry-After \d+ s: /);
    } finally {
      await teams.stop();
    }
  }, 60_000);
});
