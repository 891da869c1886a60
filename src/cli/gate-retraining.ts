/**
 * What `chargeback gate --retrain` retrains with (contracts.md §10): the Azure ML settings from the
 * environment, the price card and the retraining config from their settings (package defaults
 * otherwise), and Teams when TEAMS_WEBHOOK_URL is set.
 *
 * Where its records live decides how much it can promise. With the Function App's storage
 * (LEDGER_STORAGE_CONNECTION_STRING or LEDGER_STORAGE_ACCOUNT_NAME) it shares the app's retraining
 * records and state: one job per model, the cooldown and the month's budget hold across the app and
 * every CI run. Without, it keeps them for this run only; the job name derived from the failure,
 * read from Azure ML before any PUT, still keeps a failure from ever starting a second job.
 */
import { MemoryOutbox } from '../adapters/memory/memory-outbox.js';
import { MemoryRetrainingStore } from '../adapters/memory/memory-retraining-store.js';
import { TeamsNotifier } from '../adapters/teams/teams-notifier.js';
import { createServices, retrainDeps } from '../composition/composition.js';
import { loadConfig, loadRetrainingSettings } from '../composition/config.js';
import { readPriceCard } from '../composition/files.js';
import { retrainingSetup } from '../composition/retraining.js';
import { SETTINGS } from '../composition/settings.js';
import type { Judgement, RetrainOutcome } from '../domain/gate/verdict.js';
import type { Clock } from '../ports/clock.js';
import { retrainOnFailure, type RetrainDeps } from '../usecases/quality/retrain.js';

export type Retrain = (judgement: Judgement) => Promise<RetrainOutcome>;

/** The retraining of a failed gate, or undefined when AML_SUBSCRIPTION_ID is not set. */
export async function retrainFromEnv(
  env: Record<string, string | undefined>,
  now: Clock,
  log: (message: string) => void,
): Promise<Retrain | undefined> {
  const settings = loadRetrainingSettings(env);
  if (settings === undefined) return undefined;
  let deps: RetrainDeps | undefined;
  if (env.LEDGER_STORAGE_CONNECTION_STRING !== undefined || env.LEDGER_STORAGE_ACCOUNT_NAME !== undefined) {
    deps = retrainDeps(await createServices(loadConfig(env), now), { now, log });
  } else {
    log(
      'retraining: no LEDGER_STORAGE_* setting, so one job per model and the monthly budget hold for this run only',
    );
    const prices = readPriceCard(env.PRICE_CARD_PATH ?? SETTINGS.PRICE_CARD_PATH.default);
    const r = retrainingSetup(settings, prices, env.AZURE_CLIENT_ID);
    const url = env.TEAMS_WEBHOOK_URL;
    deps = {
      jobs: r.jobs,
      store: new MemoryRetrainingStore(),
      prices,
      config: r.config,
      target: r.target,
      limits: r.limits,
      notifier: url === undefined || url === '' ? undefined : new TeamsNotifier({ url }),
      outbox: new MemoryOutbox(),
      now,
      log,
      context: { jobUrl: r.jobUrl },
    };
  }
  const ready = deps;
  if (ready === undefined) return undefined;
  return (judgement) => retrainOnFailure(judgement, ready);
}
