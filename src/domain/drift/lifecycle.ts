/**
 * The alert lifecycle as pure decisions: given a day's drift report and what is stored about each
 * alert, what to store next and what to post. Storage, claims and delivery live elsewhere (the
 * alert store port and the lifecycle use case); see docs/drift-lifecycle.md.
 *
 * An alert is raised once; while it holds it is posted again only when it got worse than what was
 * last posted, or when the re-notify interval has passed since then; when it stops holding it gets
 * one "back to normal" post. Every comparison is with what the channel last heard (`notified`),
 * not with yesterday's figures, so a slow creep still reaches the worsening factor eventually.
 */
import { z } from 'zod';
import { daysBetween, type Day } from '../days.js';
import { ConfigurationError } from '../errors.js';
import type { Alert, Severity } from './alert.js';

export type PostKind = 'raised' | 'worsened' | 'reminder' | 'resolved';

/**
 * Posts about one alert fall in two phases: `alert` (raised, worsened, reminder) and `resolved`. At
 * most one post per alert, day and phase is ever made, whatever runs of that day race.
 */
export type PostPhase = 'alert' | 'resolved';

export function phaseOf(kind: PostKind): PostPhase {
  return kind === 'resolved' ? 'resolved' : 'alert';
}

/** What the channel last heard about an alert: the post's day, kind and figures. */
export interface Notice {
  readonly day: Day;
  readonly kind: PostKind;
  readonly severity: Severity;
  readonly value: number;
  readonly baseline: number;
}

/** What is stored about one alert id: its current (or last) episode. */
export interface AlertRecord {
  readonly id: string;
  readonly status: 'open' | 'resolved';
  /** First day of the current episode. */
  readonly openedOn: Day;
  /** The day whose report last changed this record: an earlier day never overrides it. */
  readonly day: Day;
  /** The figures of the last day the alert held. */
  readonly alert: Alert;
  readonly resolvedOn?: Day;
  /** Undefined until a post about it was delivered (or queued for delivery). */
  readonly notified?: Notice;
}

/** A post to make: the alert's figures and, for a worsening or a reminder, what was posted before. */
export interface AlertPost {
  readonly day: Day;
  readonly id: string;
  readonly kind: PostKind;
  readonly alert: Alert;
  readonly openedOn: Day;
  readonly previous?: Notice;
}

/** One alert's outcome for the day: the record to store, and the post to make, if any. */
export interface Step {
  readonly next: AlertRecord;
  readonly post?: AlertPost;
}

export interface LifecyclePolicy {
  /** Days after the last post at which an alert that still holds is posted again. */
  readonly renotifyDays: number;
  /** An open alert is posted again when |value - baseline| grew by this factor since the last post. */
  readonly worsenFactor: number;
}

// A week: a daily reminder of a known problem is the alert storm this exists to prevent, and a week
// keeps a forgotten alert in sight. Half as far again from the baseline is a change worth a post.
export const DEFAULT_LIFECYCLE_POLICY: LifecyclePolicy = { renotifyDays: 7, worsenFactor: 1.5 };

const policySchema = z.strictObject({
  renotifyDays: z.number().int().min(1).max(365).optional(),
  worsenFactor: z.number().gt(1).max(1000).optional(),
});

/** The policy from a rules file's `lifecycle` section; absent fields take the defaults. */
export function parseLifecyclePolicy(json: unknown): LifecyclePolicy {
  const parsed = policySchema.safeParse(json ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined ? '' : issue.path.join('.');
    throw new ConfigurationError(
      `lifecycle${field === '' ? '' : `.${field}`}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return { ...DEFAULT_LIFECYCLE_POLICY, ...parsed.data };
}

const RANK: Record<Severity, number> = { warning: 0, critical: 1 };

/** True when `alert` is worse than what was last posted: severity up, or further from the baseline by the factor. */
export function isWorse(alert: Alert, notice: Notice, policy: LifecyclePolicy): boolean {
  if (RANK[alert.severity] > RANK[notice.severity]) return true;
  const now = alert.value - alert.baseline;
  const then = notice.value - notice.baseline;
  // A move to the other side of the baseline is a different problem, not this one worse; and a
  // notice with no distance gives the factor nothing to scale.
  if (then === 0 || Math.sign(now) !== Math.sign(then)) return false;
  return Math.abs(now) >= policy.worsenFactor * Math.abs(then);
}

/** The alert phase's post for an open record that still holds, if one is due. */
function followUp(
  record: AlertRecord,
  alert: Alert,
  day: Day,
  policy: LifecyclePolicy,
): PostKind | undefined {
  const last = record.notified;
  // Never delivered (a run that claimed it stopped before posting or queueing): raise it now.
  if (last === undefined || last.kind === 'resolved') return 'raised';
  if (last.day === day) return undefined; // this day was posted already: a restatement says nothing new
  if (isWorse(alert, last, policy)) return 'worsened';
  return daysBetween(last.day, day) >= policy.renotifyDays ? 'reminder' : undefined;
}

function onHolds(record: AlertRecord | undefined, alert: Alert, day: Day, policy: LifecyclePolicy): Step {
  if (record === undefined || (record.status === 'resolved' && record.day < day)) {
    const next: AlertRecord = { id: alert.id, status: 'open', openedOn: day, day, alert };
    return { next, post: { day, id: alert.id, kind: 'raised', alert, openedOn: day } };
  }
  // Open, or resolved by an earlier run of this same day whose figures were since restated.
  const { resolvedOn: _resolvedOn, ...rest } = record;
  const next: AlertRecord = { ...rest, status: 'open', day, alert };
  const kind = followUp(record, alert, day, policy);
  if (kind === undefined) return { next };
  const post: AlertPost = { day, id: alert.id, kind, alert, openedOn: record.openedOn };
  return { next, post: record.notified === undefined ? post : { ...post, previous: record.notified } };
}

function onResolved(record: AlertRecord, day: Day): Step {
  const next: AlertRecord = { ...record, status: 'resolved', resolvedOn: day, day };
  const last = record.notified;
  // "Back to normal" only for an alert the channel heard about and has not yet heard end.
  if (last === undefined || last.kind === 'resolved') return { next };
  return {
    next,
    post: {
      day,
      id: record.id,
      kind: 'resolved',
      alert: record.alert,
      openedOn: record.openedOn,
      previous: last,
    },
  };
}

/**
 * The steps for one day's report over the stored records. A record last changed by a later day is
 * left alone (a restatement of an old day does not rewind the lifecycle); a resolved id with no
 * record, or one already resolved, needs nothing.
 */
export function decide(
  report: { readonly date: Day; readonly alerts: readonly Alert[]; readonly resolved: readonly string[] },
  records: ReadonlyMap<string, AlertRecord>,
  policy: LifecyclePolicy,
): Step[] {
  const day = report.date;
  const steps: Step[] = [];
  const holding = new Set<string>();
  for (const alert of report.alerts) {
    holding.add(alert.id);
    const record = records.get(alert.id);
    if (record !== undefined && record.day > day) continue;
    steps.push(onHolds(record, alert, day, policy));
  }
  for (const id of new Set(report.resolved)) {
    const record = records.get(id);
    if (holding.has(id) || record === undefined || record.day > day || record.status === 'resolved') continue;
    steps.push(onResolved(record, day));
  }
  return steps;
}

/** The record after a post about it was delivered or queued: later notices are never replaced by earlier ones. */
export function noticeDelivered(record: AlertRecord, post: AlertPost): AlertRecord {
  // A post settled late must not overwrite what a later day posted, nor land on a later episode.
  if (post.day < record.openedOn || (record.notified !== undefined && record.notified.day > post.day))
    return record;
  const notified: Notice = {
    day: post.day,
    kind: post.kind,
    severity: post.alert.severity,
    value: post.alert.value,
    baseline: post.alert.baseline,
  };
  return { ...record, notified };
}

/**
 * Ids of alerts that were open at the end of the day before `day`: what the rules' hysteresis and
 * their `resolved` list need. Exact for the current episode of each alert; a restatement of a day
 * before an alert's current episode sees it as closed then.
 */
export function openBefore(records: Iterable<AlertRecord>, day: Day): Set<string> {
  const open = new Set<string>();
  for (const r of records) {
    if (r.openedOn >= day) continue;
    if (r.status === 'open' || (r.resolvedOn !== undefined && r.resolvedOn >= day)) open.add(r.id);
  }
  return open;
}

/** True when two records hold the same data, whatever the order of their keys. */
export function sameRecord(a: AlertRecord, b: AlertRecord): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}
