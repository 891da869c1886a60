/**
 * Instants are carried as integer microseconds since the Unix epoch: exact for the
 * "millisecond precision or better" timestamps of contracts.md §2, and still a safe integer
 * (2^53 microseconds is year 2255).
 */
export type Micros = number;

export const MICROS_PER_SECOND = 1_000_000;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parses an ISO-8601 timestamp with `Z` or an offset (contracts.md §2),
 * `YYYY-MM-DDTHH:MM:SS[.fraction of 1-9 digits](Z|+HH:MM|-HH:MM)`; undefined when it is not one.
 * Every form gets the same checks: a real calendar day, hours 00-23, minutes and seconds 00-59,
 * offsets up to 23:59. Digits past the microsecond are dropped, not rounded. This one parser
 * serves the zod schemas and the fast path alike, so the two cannot disagree on a timestamp.
 */
export function parseTimestamp(text: string): Micros | undefined {
  const length = text.length;
  if (length < 20) return undefined;
  if (!at(text, 4, 45) || !at(text, 7, 45) || !at(text, 10, 84) || !at(text, 13, 58) || !at(text, 16, 58))
    return undefined; // the '-', '-', 'T', ':', ':' separators
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return undefined;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (DAYS_IN_MONTH[month - 1] ?? 0) + (leap ? 1 : 0)) return undefined;
  let i = 19;
  let fraction = 0;
  if (at(text, i, 46 /* . */)) {
    let count = 0;
    for (i += 1; i < length && isDigit(text.charCodeAt(i)); i++, count++) {
      if (count < 6) fraction = fraction * 10 + text.charCodeAt(i) - 48;
    }
    if (count === 0 || count > 9) return undefined;
    for (; count < 6; count++) fraction *= 10;
  }
  let offsetMinutes = 0;
  const zone = text.charCodeAt(i);
  if (zone === 90 /* Z */) {
    if (i + 1 !== length) return undefined;
  } else if ((zone === 43 || zone === 45) /* + or - */ && i + 6 === length && at(text, i + 3, 58)) {
    const offsetHours = digits(text, i + 1, 2);
    const offsetMins = digits(text, i + 4, 2);
    if (offsetHours < 0 || offsetHours > 23 || offsetMins < 0 || offsetMins > 59) return undefined;
    offsetMinutes = (zone === 43 ? 1 : -1) * (offsetHours * 60 + offsetMins);
  } else {
    return undefined;
  }
  const seconds =
    daysFromCivil(year, month, day) * 86_400 + hour * 3600 + (minute - offsetMinutes) * 60 + second;
  const micros = seconds * MICROS_PER_SECOND + fraction;
  // Outside about 1685-2255 an instant is no longer a safe integer of microseconds: refuse it
  // rather than compute with a rounded one.
  return Number.isSafeInteger(micros) ? micros : undefined;
}

function at(text: string, index: number, code: number): boolean {
  return text.charCodeAt(index) === code;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The number written by `length` decimal digits at `start`, or -1 if any is not a digit. */
function digits(text: string, start: number, length: number): number {
  let result = 0;
  for (let i = start; i < start + length; i++) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) return -1;
    result = result * 10 + code - 48;
  }
  return result;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): no Date, so
// no rolling 02-30 over into March and no mapping of years 0-99 to 1900-1999.
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** Formats an instant as ISO-8601 UTC with microseconds dropped when they are zero. */
export function formatTimestamp(micros: Micros): string {
  const millis = Math.floor(micros / 1000);
  const rest = micros - millis * 1000;
  const iso = new Date(millis).toISOString();
  return rest === 0 ? iso : `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}
