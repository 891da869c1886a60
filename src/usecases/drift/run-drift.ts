import { addDays, type Day } from '../../domain/days.js';
import type { DriftReport } from '../../domain/drift/alert.js';
import { driftMessages, type CardContext } from '../../domain/drift/card.js';
import { detectDrift } from '../../domain/drift/detect.js';
import type { AlertPost } from '../../domain/drift/lifecycle.js';
import type { DriftRules } from '../../domain/drift/rules.js';
import type { DailyMetrics } from '../../domain/metrics/metrics.js';
import { parseMetrics } from '../../domain/metrics/parse.js';
import type { Clock } from '../../ports/clock.js';
import type { Notifier } from '../../ports/notifier.js';
import type { Outbox } from '../../ports/outbox.js';
import type { ReportStore } from '../../ports/report-store.js';
import { deliver, type DeliveryResult } from '../notify/deliver.js';
import type { AlertLifecycle } from './lifecycle.js';

export interface DriftDeps {
  readonly reports: Pick<ReportStore, 'metrics'>;
  readonly rules: DriftRules;
  readonly lifecycle: AlertLifecycle;
  readonly notifier: Notifier;
  readonly outbox: Outbox;
  readonly now: Clock;
  /** The card links to `<reportLinkBase><day>` when set. */
  readonly reportLinkBase?: string;
}

export interface DriftRun {
  readonly report: DriftReport;
  /** The posts this run won from the lifecycle (none for a day run again). */
  readonly posts: readonly AlertPost[];
  readonly delivery: DeliveryResult;
}

/**
 * The daily run's drift step for one reported day: its metrics against the days before it, the
 * lifecycle deciding which alerts the channel hears of, delivery through the outbox, and each post
 * settled as posted or queued. Safe to run again for the same day: the lifecycle's claims grant a
 * post once, so a retried or restated day posts nothing it posted before.
 */
export async function runDrift(day: Day, deps: DriftDeps): Promise<DriftRun | undefined> {
  const read = async (d: Day): Promise<DailyMetrics | undefined> => {
    const text = await deps.reports.metrics(d);
    return text === undefined ? undefined : parseMetrics(text);
  };
  const today = await read(day);
  // A day reported before metrics files existed has nothing to compare.
  if (today === undefined) return undefined;
  const history: DailyMetrics[] = [];
  for (let back = 1; back <= deps.rules.baselineDays; back += 1) {
    const earlier = await read(addDays(day, -back));
    if (earlier !== undefined) history.push(earlier);
  }
  const open = await deps.lifecycle.openIds(day);
  const report = detectDrift({ today, history, rules: deps.rules, open });
  const { posts } = await deps.lifecycle.apply(report);
  // Cards for exactly what the lifecycle granted: persisting alerts are not posted again.
  const granted: DriftReport = {
    ...report,
    alerts: posts.filter((p) => p.kind !== 'resolved').map((p) => p.alert),
    resolved: posts.filter((p) => p.kind === 'resolved').map((p) => p.id),
  };
  const card: CardContext =
    deps.reportLinkBase === undefined ? {} : { reportUrl: `${deps.reportLinkBase}${day}` };
  const messages = driftMessages(granted, card);
  const delivery = await deliver(messages, { notifier: deps.notifier, outbox: deps.outbox, now: deps.now });
  const keys = new Map<AlertPost, string>();
  const digest = messages.some((m) => m.key === `${day}/digest`);
  for (const post of posts) {
    keys.set(
      post,
      post.kind === 'resolved' ? `${day}/resolved` : digest ? `${day}/digest` : `${day}/alert/${post.id}`,
    );
  }
  for (const [post, key] of keys) {
    if (delivery.sent.includes(key)) await deps.lifecycle.settle(post, 'posted');
    else if (delivery.queued.includes(key)) await deps.lifecycle.settle(post, 'queued');
  }
  return { report, posts, delivery };
}
