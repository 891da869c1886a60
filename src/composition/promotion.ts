/**
 * The promotion store of the Function App (contracts.md §16): the table PROMOTIONS_TABLE (default
 * `promotions`) in the configured storage account.
 */
import { TablePromotionStore } from '../adapters/azure-storage/table-promotion-store.js';
import { ConfigurationError } from '../domain/errors.js';
import { tableClient, type Services } from './composition.js';
import { SETTINGS } from './settings.js';

export const DEFAULT_PROMOTIONS_TABLE = SETTINGS.PROMOTIONS_TABLE.default;

export function promotionStore(
  s: Services,
  env: Record<string, string | undefined> = process.env,
): TablePromotionStore {
  const name = env.PROMOTIONS_TABLE ?? DEFAULT_PROMOTIONS_TABLE;
  if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(name))
    throw new ConfigurationError(
      `PROMOTIONS_TABLE must be a table name (a letter, then 2 to 62 letters or digits), got "${name}"`,
    );
  return new TablePromotionStore(tableClient(s.config.storage, name));
}
