import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/domain/events.js';
import { parseRecordText } from '../../src/domain/fast-parse.js';
import { parseTimestamp } from '../../src/domain/timestamp.js';
import { capacity, usage } from '../helpers/events.js';

const reasonOf = (value: unknown): string => {
  const result = parseEvent(value);
  if (result.ok) throw new Error('expected a rejection');
  return result.reason;
};

describe('event schemas: errors name the field and the rule', () => {
  it.each([
    [{ tenant: 'a\u0007b' }, 'tenant: must not contain U+0007 (control character)'],
    [{ tenant: '' }, 'tenant: must not be empty'],
    [{ feature: 'f'.repeat(129) }, 'feature: must be at most 128 characters'],
    [{ promptTokens: -1 }, 'promptTokens: must be an integer >= 0'],
    [{ completionTokens: 2.5 }, 'completionTokens: must be an integer >= 0'],
    [{ gpuCount: 0 }, 'gpuCount: must be an integer >= 1'],
    [{ gpuCount: '1' }, 'gpuCount: must be an integer >= 1'],
    [{ status: 'timeout' }, 'status: must be one of ok, error, aborted'],
    [{ startedAt: '2026-11-22 10:00:00' }, 'startedAt: must be an ISO-8601 timestamp with Z or an offset'],
    [
      { startedAt: '2026-11-22T10:00:00.000' },
      'startedAt: must be an ISO-8601 timestamp with Z or an offset',
    ],
    [{ finishedAt: '2026-11-22T00:00:05.000Z' }, 'finishedAt: must not be before startedAt'],
    [{ cachedPromptTokens: 101 }, 'cachedPromptTokens: must not exceed promptTokens'],
    [{ queueMs: -3 }, 'queueMs: must be a number >= 0'],
    [{ schemaVersion: 2 }, 'schemaVersion: must be 1'],
    [{ tenant: undefined }, 'tenant: is required'],
    [{ attributes: { region: 7 } }, 'attributes.region'],
  ])('usage %j -> %s', (patch, expected) => {
    expect(reasonOf({ ...usage(), ...patch })).toContain(expected);
  });

  it('names a type it does not know', () => {
    expect(reasonOf({ ...usage(), type: 'billing' })).toBe(
      'type: must be one of "usage", "capacity", "evaluation"',
    );
  });

  it('rejects a capacity window that ends before it starts', () => {
    expect(
      reasonOf(capacity({ windowEnd: '2026-11-22T00:00:00.000Z', windowStart: '2026-11-22T00:01:00.000Z' })),
    ).toBe('windowEnd: must be after windowStart');
  });

  it('rejects firstTokenAt outside the request', () => {
    expect(reasonOf(usage({ firstTokenAt: '2026-11-22T00:00:30.000Z' }))).toBe(
      'firstTokenAt: must lie between startedAt and finishedAt',
    );
  });

  it('keeps and ignores unknown fields', () => {
    const result = parseEvent({ ...usage(), extra: { nested: true } });
    expect(result.ok && (result.event as Record<string, unknown>).extra).toEqual({ nested: true });
  });

  it('accepts any other Unicode in tenant and feature: commas, quotes, =, emoji', () => {
    expect(parseEvent(usage({ tenant: '=SUM(A1),"x" 🙂', feature: '@feature' })).ok).toBe(true);
  });

  it('explains broken JSON and non-objects', () => {
    expect(parseRecordText('{"type":')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^not valid JSON/),
    });
    expect(parseRecordText('[1,2]')).toEqual({ ok: false, reason: 'event must be a JSON object' });
  });
});

describe('timestamps', () => {
  it('reads offsets and sub-millisecond digits exactly, in microseconds', () => {
    expect(parseTimestamp('2026-11-22T02:00:00.123456+02:00')).toBe(
      Date.parse('2026-11-22T00:00:00.123Z') * 1000 + 456,
    );
  });

  it('refuses a day that does not exist', () => {
    expect(parseTimestamp('2026-02-30T00:00:00.000Z')).toBeUndefined();
  });

  it.each([
    '2026-11-31T10:00:00+00:00',
    '2026-11-22T24:00:00+00:00',
    '2026-02-29T00:00:00.000-05:00',
    '2026-11-22T10:60:00Z',
    '2026-11-22T10:00:60.5+01:00',
    '2026-13-01T00:00:00-00:00',
    '2026-11-22T10:00:00+24:00',
    '2026-11-22T10:00:00+02:60',
    '2026-11-22T10:00:00.+02:00',
    '2026-11-22T10:00:00.1234567890Z',
    '2026-11-22T10:00:00+0200',
    '2026-11-22T10:00:00Zjunk',
    '2026-11-22t10:00:00Z',
    '9999-12-31T23:59:59Z',
  ])('refuses %s, whatever its zone', (text) => {
    expect(parseTimestamp(text)).toBeUndefined();
  });

  it('accepts a leap day and negative offsets', () => {
    expect(parseTimestamp('2028-02-29T23:30:00-01:30')).toBe(Date.parse('2028-03-01T01:00:00Z') * 1000);
  });

  // An oracle built on Date: the fields name a real instant exactly when Date.UTC gives them back.
  const fields = fc.record({
    year: fc.integer({ min: 1700, max: 2250 }),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 61 }),
    second: fc.integer({ min: 0, max: 61 }),
    fraction: fc.option(fc.stringMatching(/^\d{1,9}$/), { nil: undefined }),
    zone: fc.oneof(
      fc.constant('Z'),
      fc.record({
        sign: fc.constantFrom('+', '-'),
        hours: fc.integer({ min: 0, max: 25 }),
        minutes: fc.integer({ min: 0, max: 61 }),
      }),
    ),
  });
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

  it('checks the calendar and the clock the same way for Z and offsets, with or without a fraction', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const zone = f.zone === 'Z' ? 'Z' : `${f.zone.sign}${pad(f.zone.hours)}:${pad(f.zone.minutes)}`;
        const fraction = f.fraction === undefined ? '' : `.${f.fraction}`;
        const text = `${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)}T${pad(f.hour)}:${pad(f.minute)}:${pad(f.second)}${fraction}${zone}`;
        const utc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
        const d = new Date(utc);
        const realFields =
          d.getUTCFullYear() === f.year &&
          d.getUTCMonth() === f.month - 1 &&
          d.getUTCDate() === f.day &&
          d.getUTCHours() === f.hour &&
          d.getUTCMinutes() === f.minute &&
          d.getUTCSeconds() === f.second;
        const offset =
          f.zone === 'Z' ? 0 : (f.zone.sign === '+' ? 1 : -1) * (f.zone.hours * 60 + f.zone.minutes);
        const realZone = f.zone === 'Z' || (f.zone.hours <= 23 && f.zone.minutes <= 59);
        const micros = Number((f.fraction ?? '').padEnd(6, '0').slice(0, 6));
        const expected = realFields && realZone ? (utc - offset * 60_000) * 1000 + micros : undefined;
        expect(parseTimestamp(text)).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });
});
