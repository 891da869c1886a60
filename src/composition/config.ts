import { inspect } from 'node:util';
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors.js';

/**
 * Every setting of the Function App, parsed once into real types. Names live here and nowhere else.
 * The storage connection string is a secret: it never appears in logs or serialised config.
 */
const schema = z
  .object({
    LEDGER_STORAGE_CONNECTION_STRING: z.string().min(1).optional(),
    LEDGER_STORAGE_ACCOUNT_NAME: z
      .string()
      .regex(/^[a-z0-9]{3,24}$/, 'must be a storage account name (3-24 lower-case letters and digits)')
      .optional(),
    /** Client id of the user-assigned managed identity, when the app uses one. */
    AZURE_CLIENT_ID: z.string().min(1).optional(),
    LEDGER_TABLE: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be a table name')
      .default('ledger'),
    LEDGER_CONTAINER: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/, 'must be a container name')
      .default('ledger'),
    REPORTS_CONTAINER: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/, 'must be a container name')
      .default('reports'),
    PRICE_CARD_PATH: z.string().min(1).default('prices/azure-a100.json'),
    IDLE_POLICY: z.enum(['separate', 'share']).default('separate'),
    WEIGHTING: z.enum(['step-cost', 'time-share']).default('step-cost'),
    RESTATE_DAYS: z.coerce.number().int().min(1).max(400).default(35),
    INGEST_RETRY_DEADLINE_SECONDS: z.coerce.number().int().min(0).max(600).default(240),
  })
  .refine(
    (env) =>
      env.LEDGER_STORAGE_CONNECTION_STRING !== undefined || env.LEDGER_STORAGE_ACCOUNT_NAME !== undefined,
    {
      message:
        'set LEDGER_STORAGE_ACCOUNT_NAME (managed identity) or LEDGER_STORAGE_CONNECTION_STRING (local)',
    },
  );

export interface Config {
  readonly storage:
    | { readonly kind: 'connection-string'; readonly connectionString: string }
    | { readonly kind: 'identity'; readonly accountName: string; readonly clientId: string | undefined };
  readonly ledgerTable: string;
  readonly ledgerContainer: string;
  readonly reportsContainer: string;
  readonly priceCardPath: string;
  readonly idle: 'separate' | 'share';
  readonly weighting: 'step-cost' | 'time-share';
  readonly restateDays: number;
  readonly ingestRetryDeadlineMs: number;
}

const REDACTED = '[redacted]';

/** Parses the environment; throws a ConfigurationError listing every bad or missing setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message,
    );
    throw new ConfigurationError(`configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const storage: Config['storage'] =
    e.LEDGER_STORAGE_CONNECTION_STRING !== undefined
      ? { kind: 'connection-string', connectionString: e.LEDGER_STORAGE_CONNECTION_STRING }
      : { kind: 'identity', accountName: e.LEDGER_STORAGE_ACCOUNT_NAME ?? '', clientId: e.AZURE_CLIENT_ID };
  const config: Config = {
    storage,
    ledgerTable: e.LEDGER_TABLE,
    ledgerContainer: e.LEDGER_CONTAINER,
    reportsContainer: e.REPORTS_CONTAINER,
    priceCardPath: e.PRICE_CARD_PATH,
    idle: e.IDLE_POLICY,
    weighting: e.WEIGHTING,
    restateDays: e.RESTATE_DAYS,
    ingestRetryDeadlineMs: e.INGEST_RETRY_DEADLINE_SECONDS * 1000,
  };
  const safe = (): unknown => ({
    ...config,
    storage:
      storage.kind === 'connection-string' ? { kind: storage.kind, connectionString: REDACTED } : storage,
  });
  Object.defineProperty(config, 'toJSON', { value: safe, enumerable: false });
  Object.defineProperty(config, inspect.custom, { value: () => inspect(safe()), enumerable: false });
  return Object.freeze(config);
}
