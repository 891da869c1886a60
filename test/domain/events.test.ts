import { describe, expect, it } from 'vitest';
import { parseEvent, parseEventText } from '../../src/domain/events.js';
import { parseTimestamp } from '../../src/domain/timestamp.js';
import { capacity, usage } from '../helpers/events.js';

const reasonOf = (value: unknown): string => {
  const result = parseEvent(value);
  if (result.ok) throw new Error('expected a rejection');
  return result.reason;
};

describe('event schemas: errors name the field and the rule', () => {
  it.each([
    [{ tenant: 'a\u0007b' }, 'tenant: must not contain control characters'],
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
    expect(parseEventText('{"type":')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^not valid JSON/),
    });
    expect(parseEventText('[1,2]')).toEqual({ ok: false, reason: 'event must be a JSON object' });
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
});
