/**
 * Drift for one reported day (contracts.md §9): the day's metrics against the days before it, the alerts
 * file beside the report, and the Teams posts the alert lifecycle grants, delivered through the
 * outbox and then settled.
 *
 * Why running a day again is harmless: detection and the alerts file are pure functions of the
 * stored metrics and the open alerts; every post is claimed once per (day, alert, phase) by the
 * lifecycle, so a second run of the day wins no claim and builds no card; and the outbox keys
 * messages by day and alert, so a card that waits is not queued twice.
 */
import { addDays, type Day } from '../../domain/days.js';
import { PermanentError } from '../../domain/errors.js';
import type { DriftReport } from '../../domain/drift/alert.js';
import { driftMessages, type CardContext, type KeyedMessage } from '../../domain/drift/card.js';
import { detectDrift } from '../../domain/drift/detect.js';
import type { AlertPost, LifecyclePolicy } from '../../domain/drift/lifecycle.js';
import type { DriftRules } from '../../domain/drift/rules.js';
import { parseMetrics } from '../../domain/metrics/build.js';
import type { DailyMetrics } from '../../domain/metrics/metrics.js';
import type { AlertStore } from '../../ports/alert-store.js';
import type { Clock } from '../../ports/clock.js';
import type { Notifier } from '../../ports/notifier.js';
import type { Outbox } from '../../ports/outbox.js';
import type { ReportStore } from '../../ports/report-store.js';
import { deliver, type DeliveryResult } from '../notify/deliver.js';
import { AlertLifecycle } from './lifecycle.js';

export interface DriftDeps {
  readonly reports: Pick<ReportStore, 'metrics' | 'writeAlerts'>;
  readonly alerts: AlertStore;
  readonly outbox: Outbox;
  /** Undefined when no Teams webhook is configured: alerts are computed and stored, nothing is posted. */
  readonly notifier: Notifier | undefined;
  readonly rules: DriftRules;
  readonly policy: LifecyclePolicy;
  readonly now: Clock;
  /** Names this run in its claims (the invocation id in Azure). */
  readonly runId: string;
  /** The card's button opens `<reportLinkBase><day>`. */
  readonly reportLinkBase?: string;
}

export interface DriftOutcome {
  readonly day: Day;
  readonly baselineDays: number;
  readonly alerts: number;
  readonly resolved: number;
  /** Posts this run won from the lifecycle. */
  readonly posts: number;
  /** Posts another run of the day had already claimed. */
  readonly lost: number;
  /** History days whose metrics file could not be read, left out of the baseline. */
  readonly unreadableDays: readonly Day[];
  /** Undefined when nothing was delivered because no notifier is configured. */
  readonly delivery: DeliveryResult | undefined;
}

/** What detectDay reads the days' metrics from, and what it does with a damaged history day. */
export interface DetectDayDeps {
  readonly reports: Pick<ReportStore, 'metrics'>;
  readonly rules: DriftRules;
  /**
   * `skip` (the daily Function): a damaged history day is left out of the baseline and named, so
   * one bad file does not stop the day's alerts. `fail` (the command line, contracts.md §9: unreadable
   * input is exit 2): it throws, naming the day.
   */
  readonly damagedHistory: 'skip' | 'fail';
}

/**
 * The day's drift (contracts.md §9): its metrics against the days before it (a missing day is skipped and
 * shows in baselineDays), with the alerts open before it. The one detection of the daily Function
 * and of `chargeback drift`; undefined when the day has no metrics file. Throws when the day's own
 * metrics are damaged, or not that day's.
 */
export async function detectDay(
  day: Day,
  open: ReadonlySet<string>,
  deps: DetectDayDeps,
): Promise<{ report: DriftReport; unreadableDays: Day[] } | undefined> {
  const todayText = await deps.reports.metrics(day);
  if (todayText === undefined) return undefined;
  const today = metricsOf(day, todayText);
  const { history, unreadableDays } = await readHistory(day, deps);
  return { report: detectDrift({ today, history, rules: deps.rules, open }), unreadableDays };
}

/** Runs drift for `day`; undefined when the day has no metrics file (never reported). */
export async function runDrift(day: Day, deps: DriftDeps): Promise<DriftOutcome | undefined> {
  const lifecycle = new AlertLifecycle({
    store: deps.alerts,
    policy: deps.policy,
    now: deps.now,
    runId: deps.runId,
  });
  const detected = await detectDay(day, await lifecycle.openIds(day), { ...deps, damagedHistory: 'skip' });
  if (detected === undefined) return undefined;
  const { report, unreadableDays } = detected;
  await deps.reports.writeAlerts(day, `${JSON.stringify(report, null, 2)}\n`);
  const applied = await lifecycle.apply(report);
  const summary = {
    day,
    baselineDays: report.baselineDays,
    alerts: report.alerts.length,
    resolved: report.resolved.length,
    posts: applied.posts.length,
    lost: applied.lost,
    unreadableDays,
  };
  // Without a webhook the won claims stay unsettled, so the records stay unheard: once a URL is
  // set, the next run raises every alert still open (docs/drift-lifecycle.md, "open, never delivered").
  if (deps.notifier === undefined) return { ...summary, delivery: undefined };
  const context: CardContext =
    deps.reportLinkBase === undefined ? {} : { reportUrl: `${deps.reportLinkBase}${day}` };
  const messages = driftMessages(grantedReport(report, applied.posts), context);
  // Sent even when this run has no message of its own: cards left in the outbox go out first.
  const delivery = await deliver(messages, { notifier: deps.notifier, outbox: deps.outbox, now: deps.now });
  for (const post of applied.posts) {
    const key = messageKeyOf(post, messages);
    if (delivery.sent.includes(key)) await lifecycle.settle(post, 'posted');
    else if (delivery.queued.includes(key)) await lifecycle.settle(post, 'queued');
  }
  return { ...summary, delivery };
}

/**
 * The day's report cut down to the posts the lifecycle granted: an alert that persists without
 * getting worse is in the alerts file but gets no card, and neither does a post another run won.
 */
export function grantedReport(report: DriftReport, posts: readonly AlertPost[]): DriftReport {
  const alertIds = new Set(posts.filter((p) => p.kind !== 'resolved').map((p) => p.id));
  const resolvedIds = new Set(posts.filter((p) => p.kind === 'resolved').map((p) => p.id));
  return {
    date: report.date,
    baselineDays: report.baselineDays,
    alerts: report.alerts.filter((a) => alertIds.has(a.id)),
    resolved: report.resolved.filter((id) => resolvedIds.has(id)),
  };
}

/** The key of the message that carries `post`: its own card, the digest, or the "back to normal" card. */
function messageKeyOf(post: AlertPost, messages: readonly KeyedMessage[]): string {
  if (post.kind === 'resolved') return `${post.day}/resolved`;
  const own = `${post.day}/alert/${post.id}`;
  return messages.some((m) => m.key === own) ? own : `${post.day}/digest`;
}

async function readHistory(
  day: Day,
  deps: DetectDayDeps,
): Promise<{ history: DailyMetrics[]; unreadableDays: Day[] }> {
  const days = Array.from({ length: deps.rules.baselineDays }, (_, i) => addDays(day, -(i + 1)));
  const texts = await Promise.all(days.map((d) => deps.reports.metrics(d)));
  const history: DailyMetrics[] = [];
  const unreadableDays: Day[] = [];
  texts.forEach((text, i) => {
    const d = days[i] as Day;
    if (text === undefined) return; // a missing day is skipped and shows in baselineDays (contracts.md §9)
    try {
      history.push(metricsOf(d, text));
    } catch (error) {
      if (deps.damagedHistory === 'fail') throw error;
      // One damaged history file must not stop the day's alerts: it is left out, and named.
      unreadableDays.push(d);
    }
  });
  return { history, unreadableDays };
}

/** A day's metrics file read; it must be that day's (a file copied under another day's name is not). */
function metricsOf(day: Day, text: string): DailyMetrics {
  try {
    const metrics = parseMetrics(text);
    if (metrics.date !== day) throw new Error(`it is the metrics of ${metrics.date}`);
    return metrics;
  } catch (error) {
    throw new DamagedMetricsError(day, (error as Error).message);
  }
}

/** A day's metrics file that cannot be used (permanent: reading it again gives the same), naming the day. */
export class DamagedMetricsError extends PermanentError {
  constructor(
    readonly day: Day,
    reason: string,
  ) {
    super(`metrics of ${day}: ${reason}`);
  }
}
