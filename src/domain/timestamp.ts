/**
 * Instants are carried as integer microseconds since the Unix epoch: exact for the
 * "millisecond precision or better" timestamps of SPEC section 2, and still a safe integer
 * (2^53 microseconds is year 2255).
 */
export type Micros = number;

export const MICROS_PER_SECOND = 1_000_000;
export const MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND;

// ISO-8601 date-time with an explicit `Z` or offset (SPEC section 2), fraction optional.
const ISO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses an ISO-8601 timestamp with `Z` or an offset; undefined when it is not one. */
export function parseTimestamp(text: string): Micros | undefined {
  const match = ISO_TIMESTAMP.exec(text);
  if (match === null) return undefined;
  const [, whole = '', fraction = '', zone = ''] = match;
  const seconds = Date.parse(`${whole}${zone}`);
  if (Number.isNaN(seconds)) return undefined;
  // Date.parse accepts 2026-02-30 by rolling over; a timestamp must name a real instant.
  if (zone === 'Z' && new Date(seconds).toISOString().slice(0, 19) !== whole) return undefined;
  const micros = Number(fraction.padEnd(6, '0').slice(0, 6));
  return seconds * 1000 + micros;
}

/** Formats an instant as ISO-8601 UTC with microseconds dropped when they are zero. */
export function formatTimestamp(micros: Micros): string {
  const millis = Math.floor(micros / 1000);
  const rest = micros - millis * 1000;
  const iso = new Date(millis).toISOString();
  return rest === 0 ? iso : `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}

/** The UTC day [start, end) named by YYYY-MM-DD; undefined for anything else. */
export function parseDay(text: string): { start: Micros; end: Micros } | undefined {
  const match = DATE.exec(text);
  if (match === null) return undefined;
  const millis = Date.parse(`${text}T00:00:00Z`);
  if (Number.isNaN(millis) || new Date(millis).toISOString().slice(0, 10) !== text) return undefined;
  const start = millis * 1000;
  return { start, end: start + MICROS_PER_DAY };
}

/** The UTC day YYYY-MM-DD that contains the instant. */
export function dayOf(micros: Micros): string {
  return new Date(Math.floor(micros / 1000)).toISOString().slice(0, 10);
}
