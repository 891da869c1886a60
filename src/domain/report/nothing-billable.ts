/**
 * When a day's bill of nothing is a failure rather than a quiet day (contracts.md §6). A scheduled job that
 * reads a $0 bill cannot tell "no traffic" from "the events were all rejected" or "the events were
 * of other days"; this says which, naming what was read.
 *
 * - No events read at all: a true $0 day, not a failure.
 * - Some fleet cost (usage or not: a day of idle capacity is a real bill): not a failure.
 * - Events read, and no fleet cost and no request on the day: nothing counted (all rejected, all of
 *   other days, or only events of another type).
 * - Events read, no fleet cost, but requests finished on the day: every one unmetered (no capacity
 *   window of their pods covers them, contracts.md §4.5), so real traffic was billed $0. A failure too: the
 *   capacity events of those pods are missing, and the day's GPU-time is unknown, not zero.
 */
import type { Intake } from '../accumulator.js';
import type { ChargebackResult } from '../chargeback.js';
import { dayOf } from '../days.js';

/** How many rejection reasons the message names; the rest are counted together. */
const NAMED_REASONS = 5;

/** Why the day's bill of nothing is a failure, or undefined when it is not (a real or a truly empty day). */
export function nothingBillable(
  date: string,
  intake: Intake,
  result: Pick<ChargebackResult, 'fleetNanos' | 'requests' | 'unmeteredRequests'>,
): string | undefined {
  if (intake.counts.eventsRead === 0 || result.fleetNanos > 0) return undefined;
  const read = describeIntake(intake);
  if (result.requests > 0)
    return (
      `${date}: ${result.requests} request(s) finished on the day and the bill is 0: ` +
      `${result.unmeteredRequests} of them unmetered (no capacity window of their pods covers them), ` +
      `so the day's GPU-time is unknown, not zero; ${read}`
    );
  return `${date}: nothing in the input counts for the day; ${read}`;
}

/** What was read: how many events, which days they span, what was kept, and the rejections by count. */
export function describeIntake(intake: Intake): string {
  const c = intake.counts;
  const span =
    intake.span === undefined
      ? ''
      : dayOf(intake.span.firstUs) === dayOf(intake.span.lastUs)
        ? ` on ${dayOf(intake.span.firstUs)}`
        : ` spanning ${dayOf(intake.span.firstUs)} to ${dayOf(intake.span.lastUs)}`;
  const parts = [`${c.usageEvents} usage and ${c.capacityEvents} capacity event(s) kept`];
  if (c.ignoredEvents > 0) parts.push(`${c.ignoredEvents} of another type (evaluation) ignored`);
  if (c.duplicatesDropped > 0) parts.push(`${c.duplicatesDropped} duplicate(s) dropped`);
  if (c.rejected > 0) parts.push(`${c.rejected} rejected${rejectionText(intake.rejections, c.rejected)}`);
  return `read ${c.eventsRead} event(s)${span}: ${parts.join(', ')}`;
}

function rejectionText(rejections: ReadonlyMap<string, number>, rejected: number): string {
  const ranked = [...rejections].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const named = ranked.slice(0, NAMED_REASONS).map(([reason, n]) => `${n} × ${reason}`);
  const namedCount = ranked.slice(0, NAMED_REASONS).reduce((total, [, n]) => total + n, 0);
  // Rejections with no reason here (dead letters of the ingestion) are counted, not named.
  const rest = rejected - namedCount;
  if (rest > 0) named.push(`${rest} for other reasons`);
  return named.length === 0 ? '' : ` (${named.join('; ')})`;
}
