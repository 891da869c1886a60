import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/domain/events.js';
import { parseRecordText, type RecordResult } from '../../src/domain/fast-parse.js';
import { capacity, runDay, usage } from '../helpers/events.js';

/** Ingestion's two parsers (zod and the fast path) hold every name to the one rule of text.ts. */

const zodReason = (value: Record<string, unknown>): string => {
  const result = parseEvent(value);
  if (result.ok) throw new Error(`expected a rejection of ${JSON.stringify(value)}`);
  return result.reason;
};
const fastReason = (value: Record<string, unknown>): string => {
  const result = parseRecordText(JSON.stringify(value));
  if (result.ok) throw new Error(`expected a rejection of ${JSON.stringify(value)}`);
  return result.reason;
};
const recordOf = (result: RecordResult) => {
  if (!result.ok || result.record === null) throw new Error('expected an accounting record');
  return result.record;
};

describe('names at ingestion, in both parsers', () => {
  it.each([
    ['tenant', 'ali\u202ece', 'tenant: must not contain U+202E (bidirectional control)'],
    ['feature', 'chat\u2028', 'feature: must not contain U+2028 (line separator)'],
    ['tenant', 'a\u2029b', 'tenant: must not contain U+2029 (paragraph separator)'],
    ['model', 'llama\u202e-8b', 'model: must not contain U+202E (bidirectional control)'],
    ['model', 'llama\u200b', 'model: must not contain U+200B (invisible character)'],
    ['requestClass', 'inter\u0085active', 'requestClass: must not contain U+0085 (control character)'],
    ['pod', 'pod\u2066-a', 'pod: must not contain U+2066 (bidirectional control)'],
    ['tenant', 'a\ud800b', 'tenant: must not contain U+D800 (lone surrogate)'],
    ['feature', '\udfffx', 'feature: must not contain U+DFFF (lone surrogate)'],
    ['tenant', '(idle) ', 'tenant: must not begin or end with whitespace'],
    ['tenant', ' (idle)', 'tenant: must not begin or end with whitespace'],
    ['model', 'llama-8b ', 'model: must not begin or end with whitespace'],
    ['requestClass', 'batch\u00a0', 'requestClass: must not begin or end with whitespace'],
    ['feature', 'e\u0301'.repeat(129), 'feature: must be at most 128 characters'],
  ])('usage %s %j is rejected: %s', (field, value, reason) => {
    const event = usage({ [field]: value });
    expect(zodReason(event)).toBe(reason);
    expect(fastReason(event)).toBe(reason);
  });

  it('rejects a capacity event whose model or pod breaks the rule', () => {
    expect(fastReason(capacity({ model: 'm\u202e' }))).toBe(
      'model: must not contain U+202E (bidirectional control)',
    );
    expect(fastReason(capacity({ pod: 'pod-a ' }))).toBe('pod: must not begin or end with whitespace');
  });

  it('keeps every name in NFC, whichever parser reads it, and the eventId as it came', () => {
    const event = usage({
      eventId: 'ev-e\u0301',
      tenant: 'e\u0301cole',
      feature: 'caf\u0065\u0301',
      model: 'mode\u0300le',
      requestClass: 'cla\u0301sse',
      pod: 'po\u0302d',
    });
    const fromZod = parseEvent(event);
    expect(fromZod.ok && fromZod.event).toMatchObject({
      eventId: 'ev-e\u0301',
      tenant: '\u00e9cole',
      feature: 'caf\u00e9',
      model: 'mod\u00e8le',
      requestClass: 'cl\u00e1sse',
      pod: 'p\u00f4d',
    });
    expect(recordOf(parseRecordText(JSON.stringify(event)))).toMatchObject({
      eventId: 'ev-e\u0301',
      tenant: '\u00e9cole',
      feature: 'caf\u00e9',
      model: 'mod\u00e8le',
      requestClass: 'cl\u00e1sse',
      pod: 'p\u00f4d',
    });
  });

  it('counts 128 characters after normalisation: 128 decomposed letters are 128 composed ones', () => {
    const record = recordOf(parseRecordText(JSON.stringify(usage({ tenant: 'e\u0301'.repeat(128) }))));
    expect(record).toMatchObject({ tenant: '\u00e9'.repeat(128) });
  });
});

describe('names in the report', () => {
  it('bills école spelled precomposed and decomposed as one tenant', () => {
    const day = runDay([capacity(), usage({ tenant: '\u00e9cole' }), usage({ tenant: 'e\u0301cole' })]);
    const tenants = day.rows.map((row) => row.tenant).filter((t) => t !== '(idle)');
    expect(tenants).toEqual(['\u00e9cole']);
    expect(day.rows.find((row) => row.tenant === '\u00e9cole')?.requests).toBe('2');
  });

  it('keeps a model with a right-to-left override out of the CSV, rejected with its reason and counted', () => {
    const day = runDay([capacity(), usage({ model: 'llama\u202e' }), usage()]);
    expect(day.csv).not.toContain('\u202e');
    expect(day.rejections).toEqual(['model: must not contain U+202E (bidirectional control)']);
    expect(day.summaryJson.rejected).toBe(1);
  });

  it('rejects (idle) with a space as a name and (idle) itself as the reserved tenant', () => {
    const day = runDay([capacity(), usage({ tenant: '(idle) ' }), usage({ tenant: '(idle)' })]);
    expect(day.rejections).toEqual([
      'tenant: must not begin or end with whitespace',
      'tenant: "(idle)" is reserved for idle GPU-time',
    ]);
    expect(day.summaryJson.rejected).toBe(2);
  });
});
