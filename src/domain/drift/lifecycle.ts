import { daysBetween } from '../days.js';
import type { Alert, DriftReport, Severity } from './alert.js';

/**
 * The life of a drift alert, as pure decisions: what a day's detection means for the channel.
 *
 * - An alert is posted when it is raised (not open before), when it gets worse (its severity goes
 *   up, or its distance from the baseline grows by `worsenFactor` over what was last posted), or
 *   when it has stayed open `renotifyDays` since its last post. Otherwise it persists quietly.
 * - An open alert that no longer holds is resolved with one short "back to normal" post.
 * - A day at or before the day an alert was last posted never posts it again: a restatement or a
 *   retry of a day re-detects the same alerts and must not repeat them. (Which of two concurrent
 *   runs posts is decided by the store's claim, see ports/alert-store.ts.)
 */

export type PostKind = 'raised' | 'worse' | 'renotify' | 'resolved';

export interface AlertState {
  readonly id: string;
  readonly rule: string;
  readonly status: 'open' | 'resolved';
  /** The alert as last detected (its scope, figures and message). */
  readonly alert: Alert;
  /** The day the alert was raised (the latest raise, after a reopen). */
  readonly openedOn: string;
  /** The day of its last post, and what that post said. */
  readonly lastPostedOn: string;
  readonly lastPostedSeverity: Severity;
  readonly lastPostedValue: number;
  /** The last day it was detected (open) or resolved. */
  readonly lastSeenOn: string;
}

export interface LifecycleOptions {
  /** Days an alert may stay open without a post before it is posted again. Default 7. */
  readonly renotifyDays: number;
  /** A post again when |value - baseline| reaches this multiple of what was last posted. Default 1.5. */
  readonly worsenFactor: number;
}

export const DEFAULT_LIFECYCLE: LifecycleOptions = { renotifyDays: 7, worsenFactor: 1.5 };

export interface PlannedPost {
  readonly kind: PostKind;
  readonly id: string;
  /** The alert as detected today (for `resolved`: as it was last detected). */
  readonly alert: Alert;
}

export interface LifecyclePlan {
  /** Posts to claim and make, in the order of the report. */
  readonly posts: readonly PlannedPost[];
  /** Every state this day changes, whether or not a post is made. */
  readonly states: readonly AlertState[];
}

const SEVERITY_RANK: Record<Severity, number> = { warning: 1, critical: 2 };

/** Ids open before `day`: the `open` set detection needs for hysteresis and `resolved`. */
export function openBefore(states: Iterable<AlertState>, day: string): Set<string> {
  const open = new Set<string>();
  for (const s of states) if (s.status === 'open' && s.openedOn < day) open.add(s.id);
  return open;
}

/** What day `report.date`'s detection posts and how the stored states change. */
export function planLifecycle(
  report: DriftReport,
  states: ReadonlyMap<string, AlertState>,
  options: LifecycleOptions = DEFAULT_LIFECYCLE,
): LifecyclePlan {
  const day = report.date;
  const posts: PlannedPost[] = [];
  const next: AlertState[] = [];
  for (const alert of report.alerts) {
    const state = states.get(alert.id);
    const kind = postKind(alert, state, day, options);
    const opened = state === undefined || state.status === 'resolved' ? day : state.openedOn;
    if (state !== undefined && day < state.lastSeenOn) continue; // an older day restated: today's state stands
    if (kind !== undefined) posts.push({ kind, id: alert.id, alert });
    next.push({
      id: alert.id,
      rule: alert.rule,
      status: 'open',
      alert,
      openedOn: opened,
      lastPostedOn: kind === undefined ? (state?.lastPostedOn ?? day) : day,
      lastPostedSeverity: kind === undefined ? (state?.lastPostedSeverity ?? alert.severity) : alert.severity,
      lastPostedValue: kind === undefined ? (state?.lastPostedValue ?? alert.value) : alert.value,
      lastSeenOn: day,
    });
  }
  for (const id of report.resolved) {
    const state = states.get(id);
    if (state?.status !== 'open' || day < state.lastSeenOn) continue;
    if (day > state.lastPostedOn) posts.push({ kind: 'resolved', id, alert: state.alert });
    next.push({ ...state, status: 'resolved', lastPostedOn: day, lastSeenOn: day });
  }
  return { posts, states: next };
}

function postKind(
  alert: Alert,
  state: AlertState | undefined,
  day: string,
  options: LifecycleOptions,
): PostKind | undefined {
  if (state === undefined || state.status === 'resolved') {
    // Resolved earlier the same day (a restatement that brings it back) is not a new raise.
    return state !== undefined && day <= state.lastPostedOn ? undefined : 'raised';
  }
  if (day <= state.lastPostedOn) return undefined;
  if (SEVERITY_RANK[alert.severity] > SEVERITY_RANK[state.lastPostedSeverity]) return 'worse';
  const posted = Math.abs(state.lastPostedValue - state.alert.baseline);
  const now = Math.abs(alert.value - alert.baseline);
  if (posted > 0 && now >= posted * options.worsenFactor) return 'worse';
  if (daysBetween(state.lastPostedOn, day) >= options.renotifyDays) return 'renotify';
  return undefined;
}
