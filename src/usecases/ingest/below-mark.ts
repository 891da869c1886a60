import { createHash } from 'node:crypto';
import type { Ledger } from '../../ports/ledger.js';

/**
 * Events numbered at or below their (day, partition)'s high-water mark (see "Numbering that goes
 * back" in ports/ledger.ts). Most are redeliveries; but a recreated hub, a failover to another
 * namespace or a checkpoint moved back numbers events the ledger never saw below the mark too. They
 * are told apart by eventId (contracts.md §4.6), not by number: an event is a duplicate when a segment
 * covering its sequence numbers holds its eventId, or when it comes again in the same batch.
 */

export interface Numbered {
  readonly sequenceNumber: number;
  readonly eventId: string;
  readonly line: string;
}

/** The events, in order, whose eventId the ledger does not hold, each eventId once. */
export async function notInLedger<E extends Numbered>(
  ledger: Ledger,
  day: string,
  partition: string,
  events: readonly E[],
): Promise<E[]> {
  const first = Math.min(...events.map((e) => e.sequenceNumber));
  const last = Math.max(...events.map((e) => e.sequenceNumber));
  const held = new Set<string>();
  for (const segment of await ledger.segmentsCovering(day, partition, first, last)) {
    for (const line of (await ledger.readSegment(segment)).split('\n')) {
      if (line !== '') held.add(eventIdOf(line));
    }
  }
  return events.filter((e) => {
    if (held.has(e.eventId)) return false;
    held.add(e.eventId);
    return true;
  });
}

/** Names a restart segment: the same lines, the same name, so a lost race only rewrites the same bytes. */
export function restartDigest(lines: readonly string[]): string {
  const hash = createHash('sha256');
  for (const line of lines) hash.update(`${line}\n`);
  return hash.digest('hex').slice(0, 32);
}

/** The log line for a batch whose numbering went back, with what an operator needs to find it. */
export function regressionReason(r: {
  day: string;
  partition: string;
  mark: number;
  first: number;
  last: number;
  kept: number;
  duplicates: number;
}): string {
  return (
    `partition ${r.partition}, day ${r.day}: sequence numbers went back ` +
    `(batch ${r.first}-${r.last}, high-water mark ${r.mark}): ` +
    `${r.kept} events at or below the mark were not in the ledger and are kept in a restart segment; ` +
    `${r.duplicates} were (duplicates). A recreated hub, a failover or a checkpoint moved back does this`
  );
}

function eventIdOf(line: string): string {
  // Ledger lines are events that passed validation: eventId is a string.
  return String((JSON.parse(line) as { eventId?: unknown }).eventId);
}
