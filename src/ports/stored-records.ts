/**
 * What the quality and retraining stores share, whatever is behind them: the order they list in,
 * and the size bound. A record (an evaluation, a verdict, the retraining state, a job record) is
 * kept as its JSON text, and one whose text is longer than MAX_STORED_JSON_CHARS is refused with a
 * PermanentError. The memory adapters refuse exactly what the Table adapters must, so tests see
 * what Azure would do.
 *
 * JSON is also why -0 is kept as 0: JSON.stringify(-0) is "0". Every other finite number comes back
 * exactly (JSON.stringify writes the shortest text that parses to the same double).
 */
import { PermanentError } from '../domain/errors.js';
import type { Evaluation } from '../domain/gate/verdict.js';
import type { JobRecord } from '../domain/retrain/record.js';
import type { DeadLetter } from './ledger.js';

/**
 * UTF-16 code units. Table Storage keeps strings in UTF-16 and an entity to 1 MiB in all
 * (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model):
 * 480,000 units are 960,000 bytes, which leaves room for the keys and the other properties.
 */
export const MAX_STORED_JSON_CHARS = 480_000;

/** The JSON text of a record, or a PermanentError naming what it is and how long it would be. */
export function storedJson(what: string, value: unknown): string {
  const text = JSON.stringify(value);
  if (text.length > MAX_STORED_JSON_CHARS) {
    // `what` names attacker-reachable strings (a model name has no length bound): keep the message short.
    const name = what.length > 300 ? `${what.slice(0, 300)}...` : what;
    throw new PermanentError(
      `${name}: ${text.length} characters of JSON is more than a store keeps (${MAX_STORED_JSON_CHARS})`,
    );
  }
  return text;
}

/** The order QualityStore.evaluations promises: evaluatedAtUs, then eventId. */
export function evaluationOrder(a: Evaluation, b: Evaluation): number {
  return a.evaluatedAtUs - b.evaluatedAtUs || compareText(a.eventId, b.eventId);
}

/** The order QualityStore.deadLetters promises: enqueued first, then by partition and sequence number. */
export function deadLetterOrder(a: DeadLetter, b: DeadLetter): number {
  return (
    compareText(a.enqueuedTime, b.enqueuedTime) ||
    compareText(a.partition, b.partition) ||
    a.sequenceNumber - b.sequenceNumber
  );
}

/** The order RetrainingStore.jobs promises: decidedAt, then name. */
export function jobOrder(a: JobRecord, b: JobRecord): number {
  return compareText(a.decidedAt, b.decidedAt) || compareText(a.name, b.name);
}

/** UTF-16 code unit order, as Array.prototype.sort uses: the same on every machine, unlike localeCompare. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
