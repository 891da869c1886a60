import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { loadConfig } from '../../src/composition/config.js';
import { createServices, type Services } from '../../src/composition/composition.js';

/** Services on the shared Azurite, with a table and containers of their own so tests never meet. */
export async function isolatedServices(
  connectionString = inject('azurite'),
  now?: () => Date,
  env: Record<string, string> = {},
): Promise<Services> {
  const id = randomUUID().replace(/-/g, '').slice(0, 12);
  return createServices(
    loadConfig({
      LEDGER_STORAGE_CONNECTION_STRING: connectionString,
      LEDGER_TABLE: `ledger${id}`,
      LEDGER_CONTAINER: `ledger-${id}`,
      REPORTS_CONTAINER: `reports-${id}`,
      RESTATE_QUEUE_NAME: `days-${id}`,
      ALERTS_TABLE: `alerts${id}`,
      QUALITY_TABLE: `quality${id}`,
      RETRAINING_TABLE: `retraining${id}`,
      ...env,
    }),
    now,
  );
}

/**
 * isolatedServices with spend budgets: `budgets` written as the budgets file, and a spend table
 * and state container of their own (the container's name is returned, for reading the state);
 * `env` adds settings (a Teams webhook, say).
 */
export async function budgetServices(
  budgets: unknown,
  now: () => Date,
  env: Record<string, string> = {},
): Promise<{ services: Services; stateContainer: string }> {
  const path = join(mkdtempSync(join(tmpdir(), 'budgets-')), 'budgets.json');
  writeFileSync(path, JSON.stringify(budgets));
  const id = randomUUID().slice(0, 8);
  const stateContainer = `budget-state-${id}`;
  const services = await isolatedServices(inject('azurite'), now, {
    BUDGETS_PATH: path,
    BUDGET_SPEND_TABLE: `spend${id}`,
    BUDGET_STATE_CONTAINER: stateContainer,
    ...env,
  });
  return { services, stateContainer };
}
