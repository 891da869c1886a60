import { inspect } from 'node:util';
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors.js';
import { SETTINGS, declaredSettings, type Setting, type SettingName } from './settings.js';

type Schemas = typeof SETTINGS;
type AppSettingName = {
  [K in SettingName]: Schemas[K] extends { readonly schema: z.ZodType } ? K : never;
}[SettingName];
type Shape = { [K in AppSettingName]: Schemas[K] extends { readonly schema: infer S } ? S : never };

const shape = Object.fromEntries(
  declaredSettings().flatMap((s) => (s.schema === undefined ? [] : [[s.name, s.schema]])),
) as Shape;

/** The settings the app reads, parsed once into real types from the declarations in settings.ts. */
const schema = z
  .object(shape)
  .refine(
    (env) =>
      env.LEDGER_STORAGE_CONNECTION_STRING !== undefined || env.LEDGER_STORAGE_ACCOUNT_NAME !== undefined,
    {
      message:
        'set LEDGER_STORAGE_ACCOUNT_NAME (managed identity) or LEDGER_STORAGE_CONNECTION_STRING (local)',
    },
  )
  .superRefine(requireRetrainingSettings);

const RETRAINING_REQUIRED = [
  'AML_RESOURCE_GROUP',
  'AML_WORKSPACE',
  'AML_COMPUTE',
  'AML_ENVIRONMENT_ID',
  'AML_CODE_ID',
  'RETRAIN_MAX_USD',
] as const;

type RetrainingEnv = Pick<
  z.output<z.ZodObject<Shape>>,
  | (typeof RETRAINING_REQUIRED)[number]
  | 'AML_SUBSCRIPTION_ID'
  | 'RETRAINING_CONFIG_PATH'
  | 'AZURE_ARM_ENDPOINT'
  | 'AZURE_ARM_TOKEN_FILE'
>;

function requireRetrainingSettings(env: Partial<RetrainingEnv>, ctx: z.RefinementCtx): void {
  if (env.AML_SUBSCRIPTION_ID === undefined) return;
  for (const name of RETRAINING_REQUIRED) {
    if (env[name] === undefined)
      ctx.addIssue({ code: 'custom', path: [name], message: 'is required when AML_SUBSCRIPTION_ID is set' });
  }
}

function retrainingOf(e: RetrainingEnv): RetrainingSettings | undefined {
  if (e.AML_SUBSCRIPTION_ID === undefined) return undefined;
  return {
    subscriptionId: e.AML_SUBSCRIPTION_ID,
    resourceGroup: e.AML_RESOURCE_GROUP ?? '',
    workspace: e.AML_WORKSPACE ?? '',
    compute: e.AML_COMPUTE ?? '',
    environmentId: e.AML_ENVIRONMENT_ID ?? '',
    codeId: e.AML_CODE_ID ?? '',
    maxJobUsd: e.RETRAIN_MAX_USD ?? 0,
    configPath: e.RETRAINING_CONFIG_PATH,
    armEndpoint: e.AZURE_ARM_ENDPOINT,
    tokenFile: e.AZURE_ARM_TOKEN_FILE,
  };
}

const RETRAINING_SETTINGS = [
  ...RETRAINING_REQUIRED,
  'AML_SUBSCRIPTION_ID',
  'RETRAINING_CONFIG_PATH',
  'AZURE_ARM_ENDPOINT',
  'AZURE_ARM_TOKEN_FILE',
] as const;

/**
 * The retraining settings alone, for the command line (`chargeback gate --retrain`), which needs
 * no storage: undefined when AML_SUBSCRIPTION_ID is not set; a ConfigurationError naming every bad
 * or missing one otherwise.
 */
export function loadRetrainingSettings(
  env: Record<string, string | undefined>,
): RetrainingSettings | undefined {
  const subset = z
    .object(Object.fromEntries(RETRAINING_SETTINGS.map((name) => [name, shape[name]])))
    .superRefine(requireRetrainingSettings);
  const values = Object.fromEntries(
    RETRAINING_SETTINGS.map((name) => [name, env[name] ?? (SETTINGS[name] as Setting).default]),
  );
  const parsed = subset.safeParse(values);
  if (!parsed.success) throw new ConfigurationError(`configuration: ${problemsOf(parsed.error)}`);
  return retrainingOf(parsed.data as RetrainingEnv);
}

function problemsOf(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

export interface Config {
  readonly storage:
    | { readonly kind: 'connection-string'; readonly connectionString: string }
    | { readonly kind: 'identity'; readonly accountName: string; readonly clientId: string | undefined };
  readonly ledgerTable: string;
  readonly ledgerContainer: string;
  readonly reportsContainer: string;
  readonly restateQueue: string;
  readonly priceCardPath: string;
  readonly idle: 'separate' | 'share';
  readonly weighting: 'step-cost' | 'calibrated' | 'time-share';
  readonly restateDays: number;
  /** Events per unit of the daily run's work (DAY_UNIT_EVENTS). */
  readonly unitEvents: number;
  /** The day's run as a fan-out job over DAY_WORK_QUEUE_NAME (DAY_FAN_OUT). */
  readonly dayFanOut: boolean;
  readonly dayWorkQueue: string;
  readonly dayWorkTable: string;
  readonly dayWorkContainer: string;
  readonly ingestRetryDeadlineMs: number;
  /** The Teams Workflows webhook (a secret); undefined: drift runs and posts nothing. */
  readonly teamsWebhookUrl: string | undefined;
  readonly driftRulesPath: string;
  /** Prefix of the day's report link on drift cards. */
  readonly reportLinkBase: string | undefined;
  /** `entra`: getReportPage serves pages to colleagues App Service authentication signed in. */
  readonly pageSignIn: 'none' | 'entra';
  readonly alertsTable: string;
  /** The spend budgets file; undefined: no budgets. */
  readonly budgetsPath: string | undefined;
  readonly budgetSpendTable: string;
  readonly budgetStateContainer: string;
  readonly qualityRulesPath: string;
  readonly qualityTable: string;
  readonly retrainingTable: string;
  /** Azure ML retraining; undefined when AML_SUBSCRIPTION_ID is not set (gates judge and alert only). */
  readonly retraining: RetrainingSettings | undefined;
}

export interface RetrainingSettings {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly workspace: string;
  readonly compute: string;
  readonly environmentId: string;
  readonly codeId: string;
  readonly maxJobUsd: number;
  readonly configPath: string;
  readonly armEndpoint: string;
  readonly tokenFile: string | undefined;
}

const REDACTED = '[redacted]';

/** Parses the environment; throws a ConfigurationError listing every bad or missing setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const withDefaults: Record<string, string | undefined> = {};
  for (const s of declaredSettings()) {
    if (s.schema !== undefined) withDefaults[s.name] = env[s.name] ?? s.default;
  }
  const parsed = schema.safeParse(withDefaults);
  if (!parsed.success) throw new ConfigurationError(`configuration: ${problemsOf(parsed.error)}`);
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
    restateQueue: e.RESTATE_QUEUE_NAME,
    priceCardPath: e.PRICE_CARD_PATH,
    idle: e.IDLE_POLICY,
    weighting: e.WEIGHTING,
    restateDays: e.RESTATE_DAYS,
    unitEvents: e.DAY_UNIT_EVENTS,
    dayFanOut: e.DAY_FAN_OUT,
    dayWorkQueue: e.DAY_WORK_QUEUE_NAME,
    dayWorkTable: e.DAY_WORK_TABLE,
    dayWorkContainer: e.DAY_WORK_CONTAINER,
    ingestRetryDeadlineMs: e.INGEST_RETRY_DEADLINE_SECONDS * 1000,
    teamsWebhookUrl: e.TEAMS_WEBHOOK_URL,
    driftRulesPath: e.DRIFT_RULES_PATH,
    reportLinkBase: e.REPORT_LINK_BASE ?? ownPageLink(e.PAGE_SIGN_IN, env.WEBSITE_HOSTNAME),
    pageSignIn: e.PAGE_SIGN_IN,
    alertsTable: e.ALERTS_TABLE,
    budgetsPath: e.BUDGETS_PATH,
    budgetSpendTable: e.BUDGET_SPEND_TABLE,
    budgetStateContainer: e.BUDGET_STATE_CONTAINER,
    qualityRulesPath: e.QUALITY_RULES_PATH,
    qualityTable: e.QUALITY_TABLE,
    retrainingTable: e.RETRAINING_TABLE,
    retraining: retrainingOf(e),
  };
  const secrets = declaredSettings()
    .filter((s) => s.secret && s.schema !== undefined)
    .map((s) => env[s.name])
    .filter((v): v is string => v !== undefined && v !== '');
  return protect(config, secrets);
}

/**
 * With the app's own sign-in in front of the pages, the card's button opens them there:
 * `https://<WEBSITE_HOSTNAME>/api/pages/` (App Service sets WEBSITE_HOSTNAME to the app's default
 * host name). Undefined otherwise: cards have no button.
 */
function ownPageLink(signIn: 'none' | 'entra', host: string | undefined): string | undefined {
  if (signIn !== 'entra' || host === undefined || !/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) return undefined;
  return `https://${host}/api/pages/`;
}

/**
 * Freezes the config and every object in it, and gives each a toJSON, util.inspect and toString
 * that show any string holding a secret setting's value as `[redacted]`. Redaction goes by value,
 * not by field: wherever a secret lands in the typed config, it cannot be printed.
 */
function protect<T extends object>(value: T, secrets: readonly string[]): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) protect(child, secrets);
  }
  const safe = (): unknown => redacted(value, secrets);
  Object.defineProperty(value, 'toJSON', { value: safe, enumerable: false });
  Object.defineProperty(value, inspect.custom, { value: () => inspect(safe()), enumerable: false });
  Object.defineProperty(value, 'toString', { value: () => JSON.stringify(safe()), enumerable: false });
  return Object.freeze(value);
}

function redacted(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return secrets.some((s) => value.includes(s)) ? REDACTED : value;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redacted(v, secrets)]));
}
