import { randomUUID } from 'node:crypto';
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
