import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { TableAlertStore } from '../adapters/azure-storage/table-alert-store.js';
import { TableOutbox } from '../adapters/azure-storage/table-outbox.js';
import { TeamsNotifier } from '../adapters/teams/teams-notifier.js';
import { DEFAULT_LIFECYCLE_POLICY } from '../domain/drift/lifecycle.js';
import { parseDriftRules, type DriftRules } from '../domain/drift/rules.js';
import { ConfigurationError } from '../domain/errors.js';
import type { Notifier } from '../ports/notifier.js';
import type { Outbox } from '../ports/outbox.js';
import type { AlertStore } from '../ports/alert-store.js';
import { AlertLifecycle } from '../usecases/drift/lifecycle.js';
import type { DriftDeps } from '../usecases/drift/run-drift.js';
import { packageRoot, storageClients, type Services } from './composition.js';

/** What the drift step needs beyond the report: built once per process, after the Services. */
export interface DriftServices {
  readonly rules: DriftRules;
  readonly alerts: AlertStore;
  readonly outbox: Outbox;
  /** Absent without TEAMS_WEBHOOK_URL: drift is then neither posted nor tracked. */
  readonly notifier: Notifier | undefined;
}

/**
 * The alert states, post claims and the outbox live in the ledger's table, in partitions of their
 * own (`alert`, `claim|DAY`, `outbox`) that no ledger partition (a day, `dirty`, `prices`) shares.
 */
export async function createDriftServices(s: Services): Promise<DriftServices> {
  const { table } = storageClients(s.config);
  const alerts = new TableAlertStore(table);
  const outbox = new TableOutbox(table);
  await Promise.all([alerts.ensure(), outbox.ensure()]);
  const url = s.config.teamsWebhookUrl;
  // One client per URL: its rate limit (SPEC 7: 4 posts a second) is per client.
  const notifier = url === undefined ? undefined : new TeamsNotifier({ url });
  return { rules: readDriftRules(s.config.driftRulesPath), alerts, outbox, notifier };
}

/** The drift step's dependencies for one invocation, or undefined when nothing is to be posted. */
export function driftDeps(s: Services, d: DriftServices, runId: string): DriftDeps | undefined {
  if (d.notifier === undefined) return undefined;
  const base = s.config.reportLinkBase;
  return {
    reports: s.reports,
    rules: d.rules,
    lifecycle: new AlertLifecycle({ store: d.alerts, policy: DEFAULT_LIFECYCLE_POLICY, now: s.now, runId }),
    notifier: d.notifier,
    outbox: d.outbox,
    now: s.now,
    ...(base === undefined ? {} : { reportLinkBase: base }),
  };
}

/** The rules file at `path` (relative to the package root), validated. */
export function readDriftRules(path: string): DriftRules {
  const full = isAbsolute(path) ? path : join(packageRoot(), path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`DRIFT_RULES_PATH: cannot read ${full}: ${(error as Error).message}`);
  }
  try {
    return parseDriftRules(JSON.parse(text));
  } catch (error) {
    throw new ConfigurationError(`DRIFT_RULES_PATH: ${full}: ${(error as Error).message}`);
  }
}
