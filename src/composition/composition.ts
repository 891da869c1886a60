import { BlobRunStore } from '../adapters/azure-storage/blob-run-store.js';
import { temporaryRunSpace } from '../adapters/files/temp-run-space.js';
import type { RunStore } from '../ports/run-store.js';
import { TableClient } from '@azure/data-tables';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { loadConfig, type Config } from './config.js';
import { readBudgetsFile, readDriftRules, readGateRules, readPriceCardFile } from './files.js';
import { retrainingSetup, type Retraining } from './retraining.js';
import type { PriceCard } from '../domain/prices.js';
import type { DriftRules } from '../domain/drift/rules.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../domain/weighting.js';
import { DEFAULT_LIFECYCLE_POLICY } from '../domain/drift/lifecycle.js';
import type { AlertStore } from '../ports/alert-store.js';
import type { Clock } from '../ports/clock.js';
import type { DayQueue } from '../ports/day-queue.js';
import type { Ledger, LedgerRepair } from '../ports/ledger.js';
import type { Notifier } from '../ports/notifier.js';
import type { Outbox } from '../ports/outbox.js';
import type { ReportStore } from '../ports/report-store.js';
import type { DailyDeps } from '../usecases/daily/daily-run.js';
import type { PlanDeps } from '../usecases/daily/plan.js';
import type { IngestDeps } from '../usecases/ingest/ingest.js';
import type { RestateDeps } from '../usecases/restate/restate.js';
import type { DriftDeps } from '../usecases/drift/run-drift.js';
import { StorageLedger } from '../adapters/azure-storage/storage-ledger.js';
import { BlobReportStore } from '../adapters/azure-storage/blob-report-store.js';
import { StorageDayQueue } from '../adapters/azure-storage/storage-day-queue.js';
import { TableAlertStore } from '../adapters/azure-storage/table-alert-store.js';
import { TableOutbox } from '../adapters/azure-storage/table-outbox.js';
import { TeamsNotifier } from '../adapters/teams/teams-notifier.js';
import { TableQualityStore } from '../adapters/azure-storage/table-quality-store.js';
import { TableRetrainingStore } from '../adapters/azure-storage/table-retraining-store.js';
import { runOf, type RetrainingRun } from '../domain/retrain/charge.js';
import type { QualityStore } from '../ports/quality-store.js';
import type { RetrainingStore } from '../ports/retraining-store.js';
import type { QualityDeps, RulesOrError } from '../usecases/quality/evaluate.js';
import type { FollowDeps } from '../usecases/quality/follow.js';
import type { RetrainDeps } from '../usecases/quality/retrain.js';
import { BlobRunStorage } from '../adapters/azure-storage/blob-run-storage.js';
import { StorageFanOutStore, StorageWorkQueue } from '../adapters/azure-storage/storage-fan-out.js';
import type { FanOutDeps } from '../usecases/fan-out/fan-out.js';
import type { DayWorkDeps } from '../usecases/day/day-work.js';
import { workflowsUrl } from '../adapters/teams/webhook-url.js';
import { BlobBudgetState, TableBudgetSpend } from '../adapters/azure-storage/table-budget-spend.js';
import type { BudgetsFile } from '../domain/budgets/budgets.js';
import type { BudgetSpendStore, BudgetStateSink } from '../ports/budget-spend.js';
import type { PublishDeps } from '../usecases/budgets/publish-budgets.js';
import { closeBudgetDay } from '../usecases/budgets/close-day.js';

/**
 * Everything the Functions need, built once per process from one validated configuration: ports,
 * not adapters, so that nothing downstream depends on which storage is behind them.
 */
export interface Services {
  readonly config: Config;
  /** The ledger with its repair operations (replaying dead letters, sweeping orphans). */
  readonly ledger: Ledger & LedgerRepair;
  readonly reports: ReportStore;
  /** Cost-gate runs uploaded under runs/ in the reports container (POST /api/cost-gate). */
  readonly runs: RunStore;
  readonly dayQueue: DayQueue;
  readonly prices: PriceCard;
  /** The SKUs the price card lists (the daily run notices when their prices change). */
  readonly priceSkus: readonly string[];
  readonly weighting: Weighting;
  readonly now: Clock;
  /** Drift alert records and posting claims. */
  readonly alerts: AlertStore;
  /** Teams cards waiting for a later run (same table as the alerts, partition `outbox`). */
  readonly outbox: Outbox;
  readonly driftRules: DriftRules;
  /** The Teams client, built on first use; undefined when TEAMS_WEBHOOK_URL is not set. */
  notifier(): Notifier | undefined;
  /** Evaluation history, refused evaluation messages, last verdicts. */
  readonly quality: QualityStore;
  readonly retrainingStore: RetrainingStore;
  /** The quality gate rules, or why they cannot be read (every gate then fails closed). */
  readonly gateRules: RulesOrError;
  /** Azure ML retraining; undefined when AML_SUBSCRIPTION_ID is not set. */
  readonly retraining: Retraining | undefined;
  /** Spend budgets, their running spend and the state blob; undefined when BUDGETS_PATH is not set. */
  readonly budgets:
    | { readonly file: BudgetsFile; readonly spend: BudgetSpendStore; readonly sink: BudgetStateSink }
    | undefined;
}

// The SDKs retry each call a few times quickly; longer outages are retried around the whole,
// idempotent operation (see usecases/retry.ts) and, past that, by the Functions host.
const BLOB_RETRY = { maxTries: 4, retryDelayInMs: 200, maxRetryDelayInMs: 4000, tryTimeoutInMs: 30_000 };
const TABLE_RETRY = { maxRetries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 4000 };

export async function createServices(config: Config, now: Clock = () => new Date()): Promise<Services> {
  const { table, blobs, queues } = storageClients(config);
  const ledger = new StorageLedger(table, blobs.getContainerClient(config.ledgerContainer));
  const reports = new BlobReportStore(blobs.getContainerClient(config.reportsContainer));
  const runs = new BlobRunStore(blobs.getContainerClient(config.reportsContainer));
  const dayQueue = new StorageDayQueue(queues.getQueueClient(config.restateQueue));
  const alertsTable = tableClient(config.storage, config.alertsTable);
  const alerts = new TableAlertStore(alertsTable);
  const outbox = new TableOutbox(alertsTable);
  // Refused at start, not at the first post: an Office 365 connector URL or plain http elsewhere
  // than loopback is a configuration mistake (the error names the host only).
  if (config.teamsWebhookUrl !== undefined) workflowsUrl(config.teamsWebhookUrl);
  const card = readPriceCardFile(config.priceCardPath);
  const driftRules = readDriftRules(config.driftRulesPath);
  const budgets =
    config.budgetsPath === undefined
      ? undefined
      : {
          file: readBudgetsFile(config.budgetsPath),
          spend: new TableBudgetSpend(tableClient(config.storage, config.budgetSpendTable)),
          sink: new BlobBudgetState(blobs.getContainerClient(config.budgetStateContainer)),
        };
  const quality = new TableQualityStore(tableClient(config.storage, config.qualityTable));
  const retrainingStore = new TableRetrainingStore(tableClient(config.storage, config.retrainingTable));
  const retraining =
    config.retraining === undefined
      ? undefined
      : retrainingSetup(
          config.retraining,
          card.prices,
          config.storage.kind === 'identity' ? config.storage.clientId : undefined,
        );
  // The outbox shares the alerts' table, so creating that table once serves both.
  await Promise.all([
    ledger.ensure(),
    reports.ensure(),
    dayQueue.ensure(),
    alerts.ensure(),
    quality.ensure(),
    retrainingStore.ensure(),
  ]);
  return {
    config,
    ledger,
    reports,
    runs,
    dayQueue,
    prices: card.prices,
    priceSkus: card.skus,
    weighting: config.weighting === 'time-share' ? { kind: 'time-share' } : DEFAULT_WEIGHTING,
    now,
    alerts,
    outbox,
    driftRules,
    notifier: () => teamsNotifier(config.teamsWebhookUrl),
    quality,
    retrainingStore,
    gateRules: readGateRules(config.qualityRulesPath),
    retraining,
    budgets,
  };
}

const warn = (m: string): void => {
  console.warn(m);
};

export interface RunOptions {
  /** The clock of this run; default the services' clock. */
  readonly now?: Clock;
  /** Where notes go (an invocation's log); default console.warn. */
  readonly log?: (message: string) => void;
}

/** What judging gates needs: the stores, the rules, Teams, and retraining when it is configured. */
export function qualityDeps(s: Services, options: RunOptions = {}): QualityDeps {
  const now = options.now ?? s.now;
  const log = options.log ?? warn;
  const retrain = retrainDeps(s, options);
  return {
    quality: s.quality,
    rules: s.gateRules,
    now,
    notices: { notifier: s.notifier(), outbox: s.outbox, now, log },
    ...(retrain === undefined ? {} : { retrain }),
  };
}

export function retrainDeps(s: Services, options: RunOptions = {}): RetrainDeps | undefined {
  const r = s.retraining;
  if (r === undefined) return undefined;
  const now = options.now ?? s.now;
  return {
    jobs: r.jobs,
    store: s.retrainingStore,
    prices: s.prices,
    config: r.config,
    target: r.target,
    limits: r.limits,
    notifier: s.notifier(),
    outbox: s.outbox,
    now,
    log: options.log ?? warn,
    context: { jobUrl: r.jobUrl },
  };
}

/** What following retraining jobs needs; undefined when retraining is not configured. */
export function followDeps(s: Services, options: RunOptions = {}): FollowDeps | undefined {
  const retrain = retrainDeps(s, options);
  const registry = s.retraining?.registry;
  return retrain === undefined
    ? undefined
    : { ...retrain, ledger: s.ledger, ...(registry === undefined ? {} : { registry }) };
}

/** The retraining jobs that ran, for the daily chargeback. */
function retrainingRuns(s: Services): () => Promise<RetrainingRun[]> {
  return async () =>
    (await s.retrainingStore.jobs()).flatMap((record) => {
      const run = runOf(record);
      return run === undefined ? [] : [run];
    });
}

// One client per URL for the process: its rate limit (contracts.md §7: 4 posts a second per URL) holds
// across invocations only if they share it.
const notifiers = new Map<string, TeamsNotifier>();

function teamsNotifier(url: string | undefined): Notifier | undefined {
  if (url === undefined) return undefined;
  let notifier = notifiers.get(url);
  if (notifier === undefined) {
    notifier = new TeamsNotifier({ url });
    notifiers.set(url, notifier);
  }
  return notifier;
}

export function storageClients(config: Pick<Config, 'storage' | 'ledgerTable'>): {
  table: TableClient;
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
} {
  const storage = config.storage;
  const table = tableClient(storage, config.ledgerTable);
  if (storage.kind === 'connection-string') {
    return {
      table,
      blobs: BlobServiceClient.fromConnectionString(storage.connectionString, { retryOptions: BLOB_RETRY }),
      queues: QueueServiceClient.fromConnectionString(storage.connectionString, { retryOptions: BLOB_RETRY }),
    };
  }
  const credential = credentialFor(storage);
  return {
    table,
    blobs: new BlobServiceClient(`https://${storage.accountName}.blob.core.windows.net`, credential, {
      retryOptions: BLOB_RETRY,
    }),
    queues: new QueueServiceClient(`https://${storage.accountName}.queue.core.windows.net`, credential, {
      retryOptions: BLOB_RETRY,
    }),
  };
}

const credentials = new Map<string, DefaultAzureCredential>();

/** One credential per identity for the process, so its token cache serves every client. */
function credentialFor(storage: Extract<Config['storage'], { kind: 'identity' }>): DefaultAzureCredential {
  const key = storage.clientId ?? '';
  let credential = credentials.get(key);
  if (credential === undefined) {
    credential = new DefaultAzureCredential(
      storage.clientId === undefined ? {} : { managedIdentityClientId: storage.clientId },
    );
    credentials.set(key, credential);
  }
  return credential;
}

/** A client of the table `name` in the configured storage account. */
export function tableClient(storage: Config['storage'], name: string): TableClient {
  if (storage.kind === 'connection-string') {
    // Azurite speaks plain HTTP on loopback; in Azure the connection string names https endpoints.
    return TableClient.fromConnectionString(storage.connectionString, name, {
      allowInsecureConnection: /http:\/\/|UseDevelopmentStorage=true/.test(storage.connectionString),
      retryOptions: TABLE_RETRY,
    });
  }
  return new TableClient(
    `https://${storage.accountName}.table.core.windows.net`,
    name,
    credentialFor(storage),
    {
      retryOptions: TABLE_RETRY,
    },
  );
}

/** What drift after a day's report needs, but the run id, which each invocation supplies. */
export function driftSetup(s: Services): Omit<DriftDeps, 'runId'> {
  return {
    reports: s.reports,
    alerts: s.alerts,
    outbox: s.outbox,
    notifier: s.notifier(),
    rules: s.driftRules,
    policy: DEFAULT_LIFECYCLE_POLICY,
    now: s.now,
    ...(s.config.reportLinkBase === undefined ? {} : { reportLinkBase: s.config.reportLinkBase }),
  };
}

/** What reporting one day needs (the `reportDay` queue function, and benchmarks). */
export function dailyDeps(s: Services): DailyDeps {
  return {
    ledger: s.ledger,
    reports: s.reports,
    prices: s.prices,
    now: s.now,
    idle: s.config.idle,
    weighting: s.weighting,
    ...(s.config.weighting === 'calibrated' ? { calibrated: true } : {}),
    restateDays: s.config.restateDays,
    unitEvents: s.config.unitEvents,
    runSpace: () => temporaryRunSpace(),
    retrainingRuns: retrainingRuns(s),
    ...budgetDay(s),
  };
}

/**
 * With budgets: a day's exact costs replace its estimate before its files are stored, and each
 * scope's estimate error goes into the day's metrics, where drift judges it after the report.
 */
function budgetDay(s: Services): Pick<DailyDeps, 'closeBudgetDay'> {
  const budgets = s.budgets;
  if (budgets === undefined) return {};
  return {
    closeBudgetDay: async (day, costs) => {
      const metrics = await closeBudgetDay({ budgets: budgets.file, spend: budgets.spend }, day, costs);
      // One line per scope, JSON, so the error is also a metric a log query can chart.
      for (const m of metrics) console.info(JSON.stringify({ metric: 'budgetEstimateError', day, ...m }));
      return metrics;
    },
  };
}

/** What dailyChargeback needs to decide which days to report and queue them. */
export function planDeps(s: Services): PlanDeps {
  return { ...dailyDeps(s), priceSkus: s.priceSkus, dayQueue: s.dayQueue };
}

/** What a restatement request (the `restate` endpoint and command) needs. */
export function restateDeps(s: Services): RestateDeps {
  return { ledger: s.ledger, dayQueue: s.dayQueue, now: s.now };
}

/** What ingestUsage needs; the retry deadline defaults to the configured one. */
export function ingestDeps(
  s: Services,
  retryDeadlineMs = s.config.ingestRetryDeadlineMs,
): IngestDeps & { retryDeadlineMs: number } {
  const budgets =
    s.budgets === undefined ? {} : { budgets: { file: s.budgets.file, spend: s.budgets.spend } };
  return { ledger: s.ledger, prices: s.prices, now: s.now, retryDeadlineMs, ...budgets };
}

/** What publishBudgets needs; undefined when no budgets are configured. */
export function publishBudgetsDeps(s: Services, options: RunOptions = {}): PublishDeps | undefined {
  if (s.budgets === undefined) return undefined;
  const notifier = s.notifier();
  return {
    budgets: s.budgets.file,
    spend: s.budgets.spend,
    sink: s.budgets.sink,
    now: options.now ?? s.now,
    log: options.log ?? warn,
    ...(notifier === undefined ? {} : { notifier }),
  };
}

let shared: Promise<Services> | undefined;

/** The process-wide services, built lazily on first use (never at import time). */
export function services(): Promise<Services> {
  shared ??= createServices(loadConfig()).catch((error: unknown) => {
    shared = undefined; // let the next invocation try again, e.g. after storage comes back
    throw error;
  });
  return shared;
}

// A day's fan-in merges and persists the report (a minute or two for a large day); its claim is
// renewed every third of this, and a claim unrenewed this long is taken over.
const DAY_FAN_IN_LEASE_MS = 5 * 60_000;

export interface DayFanOut {
  readonly fanOut: FanOutDeps;
  readonly work: DayWorkDeps;
}

const dayFanOuts = new WeakMap<Services, Promise<DayFanOut>>();

/**
 * The fanned-out day's engine (job table, blobs, unit queue, created if missing) and its work's
 * ports, built once per services. A calibrated day runs there in two stages of rounds (see
 * src/usecases/day/day-work.ts).
 */
export function dayFanOut(s: Services): Promise<DayFanOut> {
  let found = dayFanOuts.get(s);
  if (found === undefined) {
    found = buildDayFanOut(s);
    dayFanOuts.set(s, found);
  }
  return found;
}

async function buildDayFanOut(s: Services): Promise<DayFanOut> {
  const config = s.config;
  const { blobs, queues } = storageClients(config);
  const container = blobs.getContainerClient(config.dayWorkContainer);
  const store = new StorageFanOutStore(tableClient(config.storage, config.dayWorkTable), container);
  const queue = new StorageWorkQueue(queues.getQueueClient(config.dayWorkQueue));
  await Promise.all([store.ensure(), queue.ensure()]);
  return {
    fanOut: { store, queue, clock: s.now, leaseMs: DAY_FAN_IN_LEASE_MS },
    work: {
      ...dailyDeps(s),
      runStorageFor: (job) => new BlobRunStorage(container, `runs/${job}/`),
      space: () => temporaryRunSpace(),
    },
  };
}
