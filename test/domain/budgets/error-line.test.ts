import { describe, expect, it } from 'vitest';
import { budgetErrorLine } from '../../../src/domain/budgets/error-line.js';
import { NO_EXACT_SPEND, type BudgetScopeMetrics } from '../../../src/domain/metrics/metrics.js';

const entry = (change: Partial<BudgetScopeMetrics>): BudgetScopeMetrics => ({
  scope: { tenant: 'acme', feature: 'chat' },
  periods: ['day'],
  estimateUsd: 14.692,
  exactUsd: 3.673,
  estimateGpuHours: 4,
  exactGpuHours: 1,
  relativeError: 3,
  ...change,
});

describe('budgetErrorLine', () => {
  it('reads estimate -> exact with the signed error', () => {
    expect(budgetErrorLine(entry({}))).toBe(
      'tenant "acme", feature "chat": estimate $14.6920 -> exact $3.6730 (+300.0%)',
    );
    expect(
      budgetErrorLine(
        entry({ scope: { feature: 'chat' }, estimateUsd: 0.8, exactUsd: 1, relativeError: -0.2 }),
      ),
    ).toBe('feature "chat": estimate $0.8000 -> exact $1.0000 (-20.0%)');
  });

  it('says why where the error is no figure, not "100% off"', () => {
    expect(
      budgetErrorLine(entry({ exactUsd: 0, exactGpuHours: 0, relativeError: null, reason: NO_EXACT_SPEND })),
    ).toBe('tenant "acme", feature "chat": estimate $14.6920 -> exact $0.0000 (no exact spend)');
  });

  it('quotes a hostile name so it cannot read as another scope', () => {
    expect(budgetErrorLine(entry({ scope: { tenant: 'a", feature "b\n' } }))).toBe(
      'tenant "a\\", feature \\"b\\n": estimate $14.6920 -> exact $3.6730 (+300.0%)',
    );
  });
});
