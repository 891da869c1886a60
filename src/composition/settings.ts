import { z } from 'zod';

/**
 * Every setting of the Function App, declared once: its name, default, whether it is required or
 * secret, who reads it and what it does. config.ts parses the app's own settings from this list,
 * functions/ take binding expressions and connection names from it, and the settings table of
 * docs/configuration.md is generated from it (a test keeps the document in step).
 */
export interface Setting {
  /** `app`: parsed by config.ts; `host`: read by the Functions host or a trigger binding; `both`. */
  readonly readBy: 'app' | 'host' | 'both';
  readonly default?: string;
  /** `yes`, `no`, or the condition under which it is needed. */
  readonly required: string;
  /** A secret is never logged or serialised (see config.ts), and shows as `[redacted]`. */
  readonly secret: boolean;
  readonly description: string;
  /** For settings the app reads: the rule its value must follow (after the default is applied). */
  readonly schema?: z.ZodType;
}

const containerName = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/, 'must be a container name');

/** The connection names trigger bindings use; the host reads `<name>` or `<name>__<property>` settings. */
export const CONNECTIONS = {
  usageHub: 'EventHubConnection',
  /** The evaluations hub is in the same namespace as the usage hub: one connection serves both. */
  evaluationsHub: 'EventHubConnection',
  dayQueue: 'DayQueueConnection',
} as const;

// 00:30 UTC every day (NCRONTAB: second minute hour day month weekday); Linux plans run in UTC.
// Fixed rather than a setting: a binding expression has no default, so a setting would be one more
// thing every deployment must set, for a time nobody needs to move.
export const DAILY_SCHEDULE = '0 30 0 * * *';

// Every 15 minutes: a stale gate turns red within a quarter of an hour of crossing maxAgeHours, and
// retraining jobs (hours long) are followed closely enough for their GPU-time to be charged to within
// that interval. Fixed, like DAILY_SCHEDULE.
export const QUALITY_SCHEDULE = '0 */15 * * * *';

const tableName = z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be a table name');
const usdAmount = z.coerce
  .number({ error: 'must be an amount in USD' })
  .refine(Number.isFinite, { error: 'must be a finite amount in USD' })
  .min(0, { error: 'must be >= 0' });

export const SETTINGS = {
  FUNCTIONS_WORKER_RUNTIME: {
    readBy: 'host',
    required: 'yes',
    secret: false,
    description: '`node`. Read by the Functions host.',
  },
  AzureWebJobsStorage: {
    readBy: 'host',
    required: 'yes',
    secret: true,
    description:
      "The Functions host's own storage: Event Hubs checkpoints and leases, timer schedule state. `UseDevelopmentStorage=true` locally; in Azure, `AzureWebJobsStorage__accountName` with the app's identity instead.",
  },
  EventHubConnection__fullyQualifiedNamespace: {
    readBy: 'host',
    required: 'yes',
    secret: false,
    description:
      "The Event Hubs namespace (`<namespace>.servicebus.windows.net`) the `ingestUsage` trigger reads, with the app's managed identity.",
  },
  EventHubConnection__credential: {
    readBy: 'host',
    required: 'no',
    secret: false,
    description: '`managedidentity`, when the trigger must use a user-assigned identity (with `__clientId`).',
  },
  EventHubConnection__clientId: {
    readBy: 'host',
    required: 'no',
    secret: false,
    description: 'Client id of that user-assigned identity.',
  },
  USAGE_EVENTHUB_NAME: {
    readBy: 'host',
    required: 'yes',
    secret: false,
    description: 'Name of the usage hub the `ingestUsage` trigger reads (`usage` in the examples).',
  },
  USAGE_CONSUMER_GROUP: {
    readBy: 'host',
    required: 'yes',
    secret: false,
    description:
      'Consumer group of the trigger (`chargeback` in the examples). Give it a group of its own: a new group starts from the oldest retained event.',
  },
  DayQueueConnection__queueServiceUri: {
    readBy: 'host',
    required: 'one of the two',
    secret: false,
    description:
      "Queue endpoint of the ledger storage account (`https://<account>.queue.core.windows.net`), which the `reportDay` trigger reads with the app's managed identity. Must name the same account as `LEDGER_STORAGE_ACCOUNT_NAME`: the app enqueues there. Add `DayQueueConnection__credential` and `__clientId` for a user-assigned identity.",
  },
  DayQueueConnection__credential: {
    readBy: 'host',
    required: 'no',
    secret: false,
    description:
      '`managedidentity`, when the `reportDay` trigger must use a user-assigned identity (with `__clientId`).',
  },
  DayQueueConnection__clientId: {
    readBy: 'host',
    required: 'no',
    secret: false,
    description: 'Client id of that user-assigned identity.',
  },
  DayQueueConnection: {
    readBy: 'host',
    required: 'one of the two',
    secret: true,
    description:
      'Connection string of that account instead (local runs: `UseDevelopmentStorage=true`, the same account as `LEDGER_STORAGE_CONNECTION_STRING`).',
  },
  LEDGER_STORAGE_ACCOUNT_NAME: {
    readBy: 'app',
    required: 'one of the two',
    secret: false,
    description:
      "Storage account of the ledger, the reports and the day queue, reached with the app's managed identity (Azure). 3 to 24 lower-case letters and digits.",
    schema: z
      .string()
      .regex(/^[a-z0-9]{3,24}$/, 'must be a storage account name (3-24 lower-case letters and digits)')
      .optional(),
  },
  LEDGER_STORAGE_CONNECTION_STRING: {
    readBy: 'app',
    required: 'one of the two',
    secret: true,
    description:
      'Connection string of that storage account instead (Azurite, local runs). Wins when both are set. Plain HTTP is allowed only for `UseDevelopmentStorage=true` or an `http://` endpoint.',
    schema: z.string().min(1).optional(),
  },
  AZURE_CLIENT_ID: {
    readBy: 'app',
    required: 'no',
    secret: false,
    description:
      'Client id of a user-assigned managed identity for the ledger storage; without it, the system-assigned identity (through `DefaultAzureCredential`).',
    schema: z.string().min(1).optional(),
  },
  LEDGER_TABLE: {
    readBy: 'app',
    default: 'ledger',
    required: 'no',
    secret: false,
    description:
      'Table of the ledger index: segment rows, high-water marks, days to restate, the price card last seen. A valid table name (letter first, 3 to 63 letters and digits). Created at start if missing.',
    schema: z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be a table name'),
  },
  LEDGER_CONTAINER: {
    readBy: 'app',
    default: 'ledger',
    required: 'no',
    secret: false,
    description:
      "Blob container of the ledger's segments and dead letters. A valid container name. Created at start if missing.",
    schema: containerName,
  },
  REPORTS_CONTAINER: {
    readBy: 'app',
    default: 'reports',
    required: 'no',
    secret: false,
    description:
      'Blob container of the daily reports (`chargeback/YYYY/MM/DD/`). Created at start if missing.',
    schema: containerName,
  },
  RESTATE_QUEUE_NAME: {
    readBy: 'both',
    default: 'chargeback-days',
    required: 'yes (the trigger binding has no default)',
    secret: false,
    description:
      'Storage queue of days to report, one message per day, in the ledger storage account. The daily run and restatement requests enqueue; `reportDay` reports. Failed messages end in `<name>-poison`. 3 to 63 lower-case letters, digits and single dashes. Created at start if missing.',
    schema: z
      .string()
      .regex(
        /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/,
        'must be a queue name (3-63 lower-case letters, digits, single dashes)',
      ),
  },
  PRICE_CARD_PATH: {
    readBy: 'app',
    default: 'prices/azure-a100.json',
    required: 'no',
    secret: false,
    description:
      "The price card, relative to the deployed app's root (the folder of `package.json`) or absolute. Read once per process: a change needs a restart, and the next daily run restates the reported days it changes. A card that cannot be read or is invalid stops the app.",
    schema: z.string().min(1),
  },
  IDLE_POLICY: {
    readBy: 'app',
    default: 'separate',
    required: 'no',
    secret: false,
    description:
      "`separate`: idle GPU-time in `(idle)` rows; `share`: spread over each pod's requests. See [accounting](accounting.md#the-rules).",
    schema: z.enum(['separate', 'share']),
  },
  WEIGHTING: {
    readBy: 'app',
    default: 'step-cost',
    required: 'no',
    secret: false,
    description:
      "`step-cost`, `calibrated` or `time-share`: how concurrent requests share a GPU. `calibrated` fits each deployment's step costs from the day's own requests, keeps them for the day's restatements and falls back to `step-cost` per deployment. See [accounting](accounting.md#how-concurrent-requests-share-a-gpu) and [calibrated constants](accounting.md#calibrated-constants---weighting-calibrated).",
    schema: z.enum(['step-cost', 'calibrated', 'time-share']),
  },
  RESTATE_DAYS: {
    readBy: 'app',
    default: '35',
    required: 'no',
    secret: false,
    description:
      'How many days back late events and price card changes still make the daily run restate a day. Integer, 1 to 400.',
    schema: z.coerce.number().int().min(1).max(400),
  },
  DAY_UNIT_EVENTS: {
    readBy: 'app',
    default: '400000',
    required: 'no',
    secret: false,
    description:
      "Events per unit of the daily run's work: an Event Hubs partition with more events that day is cut by pod on the instance's local disk and computed a unit at a time, so an instance's memory follows this setting, not the size of the day (about 1.5 KB per event of a unit at its peak; 400,000 fits a 2,048 MB Flex Consumption instance). See [benchmarks](benchmarks.md). Integer, 10,000 to 10,000,000.",
    schema: z.coerce.number().int().min(10_000).max(10_000_000),
  },
  DAY_FAN_OUT: {
    readBy: 'app',
    default: 'false',
    required: 'no',
    secret: false,
    description:
      "`true`: `reportDay` starts the day as a fan-out job instead of computing it: one message per Event Hubs partition on `DAY_WORK_QUEUE_NAME`, each run by `reportDayUnit` on whichever instance takes it, and a fan-in that merges and stores the report, then runs drift and the monthly restatement. `false`: one instance computes the whole day. With `WEIGHTING=calibrated` the day runs in two stages of rounds: the units' fit equations, fitted at the fan-in, then the units allocated with the fit. See [deployment](deployment.md#the-daily-run-fanned-out).",
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  },
  DAY_WORK_QUEUE_NAME: {
    readBy: 'both',
    default: 'chargeback-day-units',
    required: 'yes (the trigger binding has no default)',
    secret: false,
    description:
      "Storage queue of the fanned-out day's unit and fan-in messages, in the ledger storage account, read by `reportDayUnit`. Failed messages end in `<name>-poison`. 3 to 63 lower-case letters, digits and single dashes. Created at start if missing.",
    schema: z
      .string()
      .regex(
        /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/,
        'must be a queue name (3-63 lower-case letters, digits, single dashes)',
      ),
  },
  DAY_WORK_TABLE: {
    readBy: 'app',
    default: 'dayjobs',
    required: 'no',
    secret: false,
    description:
      "Table of the fanned-out days' job records (one row per job: phase, round, fan-in claim). A valid table name. Created at start if missing.",
    schema: tableName,
  },
  DAY_WORK_CONTAINER: {
    readBy: 'app',
    default: 'day-work',
    required: 'no',
    secret: false,
    description:
      "Blob container of the fanned-out days' plans, units' results and requests' cost runs (`<job>/` and `runs/<job>/`). What a finished job leaves can be removed by a lifecycle rule after a few days. A valid container name. Created at start if missing.",
    schema: containerName,
  },
  TEAMS_WEBHOOK_URL: {
    readBy: 'app',
    required: 'no',
    secret: true,
    description:
      "The Teams Workflows webhook that drift alerts are posted to (see [drift alerts in Teams](drift-teams.md#setting-up-teams)). It carries a signature: in Azure, make it a Key Vault reference, `@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>/)`, which the platform resolves with the app's identity (it needs the `Key Vault Secrets User` role on the vault or the secret). Office 365 connector URLs are refused at start; plain `http` only on loopback. Without it, drift still runs after each day's report and writes `alerts-DATE.json` and the alert records, posts nothing, and logs a warning once per process.",
    schema: z.string().min(1).optional(),
  },
  DRIFT_RULES_PATH: {
    readBy: 'app',
    default: 'rules/drift-rules.json',
    required: 'no',
    secret: false,
    description:
      "The drift rules file (see [drift](drift.md)), relative to the deployed app's root or absolute, like `PRICE_CARD_PATH`. Read once per process; a file that cannot be read or is invalid stops the app.",
    schema: z.string().min(1),
  },
  REPORT_LINK_BASE: {
    readBy: 'app',
    required: 'no',
    secret: false,
    description:
      "An http(s) URL prefix for the button on each drift card: the card links to `<prefix>YYYY-MM-DD`. With `PAGE_SIGN_IN=entra` it defaults to the app's own `getReportPage` route (`https://<WEBSITE_HOSTNAME>/api/pages/`), which opens the day's page for a colleague signed in with Entra ID. The `getReport` route (`/api/reports/`) takes a function key, which a card's link does not carry. Without either, cards have no button (see docs/operations.md, section The report link on drift cards).",
    schema: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  },
  PAGE_SIGN_IN: {
    readBy: 'app',
    default: 'none',
    required: 'no',
    secret: false,
    description:
      "`entra`: the `getReportPage` route (`GET /api/pages/{date}`, no function key) serves the day's or month's page to a request that App Service authentication signed in (it carries `x-ms-client-principal-id`, a header App Service sets and never passes through from a client) and sends anyone else to the sign-in page. Set it only where App Service authentication runs in front of the app (Bicep's `pageSignIn` parameter deploys both). `none`: that route answers 404.",
    schema: z.enum(['none', 'entra']),
  },
  MICROSOFT_PROVIDER_AUTHENTICATION_SECRET: {
    readBy: 'host',
    required: 'with PAGE_SIGN_IN=entra',
    secret: true,
    description:
      "The client secret of the Entra app registration that App Service authentication signs colleagues in with (a Key Vault reference; Bicep's `pageSignIn.clientSecretUri`). Read by the platform's authentication module, not by the code.",
  },
  BUDGETS_PATH: {
    readBy: 'app',
    required: 'no',
    secret: false,
    description:
      "The spend budgets file (see [budgets](budgets.md); `rules/budgets.json` is an example), relative to the deployed app's root or absolute, like `PRICE_CARD_PATH`. Read once per process; a file that cannot be read or is invalid stops the app. Unset: no budgets, ingest adds no spend and `publishBudgets` does nothing.",
    schema: z.string().min(1).optional(),
  },
  BUDGET_SPEND_TABLE: {
    readBy: 'app',
    default: 'budgetspend',
    required: 'no',
    secret: false,
    description:
      'Table of the running spend of each budget (PartitionKey `day-YYYY-MM-DD` or `month-YYYY-MM`, RowKey the scope) and of the threshold card claims (partition `card`). A valid table name. Created on first use.',
    schema: z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be a table name'),
  },
  BUDGET_STATE_CONTAINER: {
    readBy: 'app',
    default: 'budget-state',
    required: 'no',
    secret: false,
    description:
      'Blob container of the budget state document `state.json` that `publishBudgets` writes every 10 seconds and every sidecar reads (`SIDECAR_BUDGET_STATE_URL`). A valid container name.',
    schema: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'must be a container name'),
  },
  ALERTS_TABLE: {
    readBy: 'app',
    default: 'alerts',
    required: 'no',
    secret: false,
    description:
      'Table of the drift alert records and posting claims (partitions `alert` and `claim|DAY`) and of the outbox of undelivered Teams cards (partition `outbox`). A valid table name. Created at start if missing.',
    schema: z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be a table name'),
  },
  EVALUATIONS_EVENTHUB_NAME: {
    readBy: 'host',
    required: 'yes',
    secret: false,
    description:
      'Name of the hub of regression-harness results (`evaluations` in the examples), read by the `evaluateQuality` trigger through `EventHubConnection`.',
  },
  EVALUATIONS_CONSUMER_GROUP: {
    readBy: 'host',
    required: 'yes',
    secret: false,
    description: 'Consumer group of the `evaluateQuality` trigger (`quality` in the examples).',
  },
  QUALITY_RULES_PATH: {
    readBy: 'app',
    default: 'rules/quality-gates.json',
    required: 'no',
    secret: false,
    description:
      "The quality gate rules (see [quality gates](quality-gates.md)), relative to the deployed app's root or absolute. Read once per process. A file that cannot be read or is invalid does not stop the app: every gate then fails closed with that reason.",
    schema: z.string().min(1),
  },
  QUALITY_TABLE: {
    readBy: 'app',
    default: 'quality',
    required: 'no',
    secret: false,
    description:
      'Table of the evaluation history (a partition per model), refused evaluation messages and the last verdict per model. Created at start if missing.',
    schema: tableName,
  },
  RETRAINING_TABLE: {
    readBy: 'app',
    default: 'retraining',
    required: 'no',
    secret: false,
    description:
      "Table of retraining job records and of the shared state (each model's job slot, each month's spend). Created at start if missing.",
    schema: tableName,
  },
  PROMOTIONS_TABLE: {
    readBy: 'app',
    default: 'promotions',
    required: 'no',
    secret: false,
    description:
      'Table of promotion verdicts: each decision once and the last verdict per model, served by GET /api/promotions/{model} (see [promotion](promotion.md)).',
    schema: tableName,
  },
  RETRAINING_CONFIG_PATH: {
    readBy: 'app',
    default: 'rules/retraining.json',
    required: 'no',
    secret: false,
    description:
      'What to retrain each model with: nodes, expected hours, data asset, base model, command, cooldown, monthly budget (see [retraining](retraining.md)). Read once per process when retraining is on; invalid stops the app.',
    schema: z.string().min(1),
  },
  AML_SUBSCRIPTION_ID: {
    readBy: 'app',
    required: 'to retrain',
    secret: false,
    description:
      'Subscription of the Azure ML workspace. Retraining is on when this is set, and then every `AML_` setting below without a default is required.',
    schema: z.string().min(1).optional(),
  },
  AML_RESOURCE_GROUP: {
    readBy: 'app',
    required: 'to retrain',
    secret: false,
    description: 'Resource group of the workspace.',
    schema: z.string().min(1).optional(),
  },
  AML_WORKSPACE: {
    readBy: 'app',
    required: 'to retrain',
    secret: false,
    description: 'Name of the Azure ML workspace.',
    schema: z.string().min(1).optional(),
  },
  AML_COMPUTE: {
    readBy: 'app',
    required: 'to retrain',
    secret: false,
    description:
      "The A100 compute cluster: its name in the workspace, or its full ARM id. Its VM size is the retraining config's `computeSku`, which must be on the price card.",
    schema: z.string().min(1).optional(),
  },
  AML_ENVIRONMENT_ID: {
    readBy: 'app',
    required: 'to retrain',
    secret: false,
    description:
      'ARM id of the training environment (`.../workspaces/<ws>/environments/<name>/versions/<v>`).',
    schema: z.string().min(1).optional(),
  },
  AML_CODE_ID: {
    readBy: 'app',
    required: 'to retrain',
    secret: false,
    description: 'ARM id of the training code asset (`.../workspaces/<ws>/codes/<name>/versions/<v>`).',
    schema: z.string().min(1).optional(),
  },
  RETRAIN_MAX_USD: {
    readBy: 'app',
    required: 'to retrain',
    secret: false,
    description:
      "The most one retraining job may be estimated to cost (nodes × GPUs × expected hours × the SKU's price). A job above it, or above what is left of the month's budget (`monthlyBudgetUsd` in the retraining config), is refused with a Teams notice.",
    schema: usdAmount.optional(),
  },
  AZURE_ARM_ENDPOINT: {
    readBy: 'app',
    default: 'https://management.azure.com',
    required: 'no',
    secret: false,
    description:
      'Azure Resource Manager endpoint for Azure ML calls (another cloud, or a loopback stand-in in tests). The token is always asked for `https://management.azure.com/.default`.',
    schema: z.url({ protocol: /^https$/, error: 'must be an https URL' }),
  },
  AZURE_ARM_TOKEN_FILE: {
    readBy: 'app',
    required: 'no',
    secret: false,
    description:
      "A file holding a bearer token for Azure Resource Manager, as `az account get-access-token` prints it. Without it, the app's managed identity (`DefaultAzureCredential`, with `AZURE_CLIENT_ID` when set); it needs `AzureML Data Scientist` on the workspace.",
    schema: z.string().min(1).optional(),
  },
  INGEST_RETRY_DEADLINE_SECONDS: {
    readBy: 'app',
    default: '240',
    required: 'no',
    secret: false,
    description:
      'How long `ingestUsage` retries a batch whose storage calls fail transiently before failing the invocation (then the host retries it). Integer, 0 to 600; keep it under `functionTimeout`.',
    schema: z.coerce.number().int().min(0).max(600),
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** A trigger binding's `%NAME%` expression: the host resolves it from the app setting NAME. */
export function bindingExpression(name: SettingName): string {
  return `%${name}%`;
}

/** Every declared setting, in declaration order. */
export function declaredSettings(): readonly (Setting & { readonly name: SettingName })[] {
  return (Object.entries(SETTINGS) as [SettingName, Setting][]).map(([name, s]) => ({ name, ...s }));
}
