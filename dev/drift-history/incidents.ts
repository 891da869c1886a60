import type { AlertScope } from '../../src/domain/drift/alert.js';

/**
 * The incidents a metrics history can carry: the ground truth a drift detector is scored against.
 * `size` is the factor the incident applies (3 = threefold); for `new-feature` it is the new
 * group's weekday requests, and `feature-gone` ignores it.
 */
export const INCIDENT_KINDS = [
  /** The group's completion tokens per request (its answers) grow `size`-fold. */
  'completion-growth',
  /** The group's GPU-seconds, hence cost, per token grow `size`-fold (tokens unchanged). */
  'cost-per-token',
  /** Latency and time to first token `size`-fold for the requests the scope's pod (or model) serves. */
  'latency',
  /** The model's pods scaled out `size`-fold and left there: its idle share rises. */
  'idle',
  /** The group's error rate `size`-fold. */
  'error-rate',
  /** The group's prompt lengths `size`-fold: the whole distribution moves. */
  'prompt-shift',
  /** Rejected events fleet-wide `size`-fold (a producer sending malformed events). */
  'data-quality',
  /** A group that did not exist appears, with `size` weekday requests. */
  'new-feature',
  /** A group stops sending traffic. */
  'feature-gone',
] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export interface IncidentSpec {
  readonly kind: IncidentKind;
  /** Index of the first day in the history. */
  readonly day: number;
  /** Days it lasts; `new-feature` and `feature-gone` last to the end whatever this says. */
  readonly duration: number;
  readonly size: number;
  /**
   * The group it touches: tenant, feature, model and request class for a group's incidents; the
   * model (and pod) for `latency` and `idle`; empty for `data-quality`.
   */
  readonly scope: AlertScope;
  /** False for incidents too small, or in too small a group, to deserve an alert. */
  readonly expectAlert?: boolean;
}

export interface Incident extends Required<IncidentSpec> {
  /** The dates of its first and last day. */
  readonly date: string;
  readonly lastDate: string;
}

/** Incidents that last to the end of the history once they happen. */
export const PERMANENT: ReadonlySet<IncidentKind> = new Set(['new-feature', 'feature-gone']);

export function isActive(incident: Incident, day: number): boolean {
  return day >= incident.day && day < incident.day + incident.duration;
}

const KEYS = ['tenant', 'feature', 'model', 'requestClass', 'pod'] as const;

/** True when the two scopes agree on every key both name (so one contains the other, or they are equal). */
export function scopesAgree(a: AlertScope, b: AlertScope): boolean {
  return KEYS.every((k) => a[k] === undefined || b[k] === undefined || a[k] === b[k]);
}

/** True when the group lies inside the scope; a pod in the scope is ignored (groups span pods). */
export function groupInScope(
  group: { tenant: string; feature: string; model: string; requestClass: string },
  scope: AlertScope,
): boolean {
  return KEYS.every((k) => k === 'pod' || scope[k] === undefined || scope[k] === group[k]);
}
