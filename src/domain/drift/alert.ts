/**
 * Drift alerts as contracts.md §9 fixes them: what `alerts-DATE.json` holds, what the lifecycle stores and
 * what a Teams card shows.
 */

export type Severity = 'warning' | 'critical';

/** Which part of the fleet an alert is about; absent keys mean "all". */
export interface AlertScope {
  readonly tenant?: string;
  readonly feature?: string;
  readonly model?: string;
  readonly requestClass?: string;
  readonly pod?: string;
}

export interface Alert {
  /** Stable for the same rule and scope: an alert that persists keeps its id. */
  readonly id: string;
  readonly rule: string;
  readonly severity: Severity;
  readonly scope: AlertScope;
  readonly metric: string;
  readonly value: number;
  /** The baseline the value is compared with (NaN never: a rule without a baseline does not fire). */
  readonly baseline: number;
  readonly threshold: number;
  /** One sentence an on-call engineer can act on. */
  readonly message: string;
  /** The largest contributors to the change (tenants, features or pods), biggest first. */
  readonly contributors?: readonly { readonly name: string; readonly value: number }[];
}

/** `alerts-DATE.json` (contracts.md §9). */
export interface DriftReport {
  readonly date: string;
  /** Days of history actually found and used. */
  readonly baselineDays: number;
  readonly alerts: readonly Alert[];
  /** Ids of alerts open before this day that no longer hold. */
  readonly resolved: readonly string[];
}
