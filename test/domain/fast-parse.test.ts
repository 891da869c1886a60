import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/domain/events.js';
import { parseRecord } from '../../src/domain/fast-parse.js';
import { capacityRecord, usageRecord } from '../../src/domain/records.js';
import { capacity, usage } from '../helpers/events.js';

// The hand-written hot path must reach zod's verdict on every input, and the same record.
const field = fc.constantFrom(
  'type',
  'schemaVersion',
  'eventId',
  'requestId',
  'tenant',
  'feature',
  'model',
  'requestClass',
  'pod',
  'gpuSku',
  'gpuCount',
  'startedAt',
  'firstTokenAt',
  'finishedAt',
  'promptTokens',
  'completionTokens',
  'cachedPromptTokens',
  'queueMs',
  'status',
  'httpStatus',
  'attributes',
  'windowStart',
  'windowEnd',
);
const oddValue = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    '',
    'x',
    -1,
    0,
    1,
    1.5,
    2,
    1e300,
    Number.NaN,
    'ok',
    'usage',
    'capacity',
    [],
    {},
    { k: 1 },
    { k: 'v' },
    '2026-11-22T00:00:00.000Z',
    '2026-11-22T23:59:59.999Z',
    '2026-02-30T00:00:00.000Z',
    '2026-11-22T24:00:00.000Z',
    '2026-11-22T10:00:00.000+02:00',
    '2026-11-22T00:00:01.500-00:30',
    '2026-11-22T00:00:01+00:00',
    '2026-11-31T10:00:00+00:00',
    '2026-11-22T24:00:00+00:00',
    '2026-11-22T23:59:59.999999999+23:59',
    '2026-11-22T10:00:00+24:00',
    '2026-02-29T00:00:00.000-05:00',
    '2026-11-22T10:00:00Z',
    '2026-11-22 10:00:00.000Z',
    '0099-01-01T00:00:00.000Z',
    'tab\there',
    '\u0085',
    'x'.repeat(129),
    '🙂',
    // The names rule (text.ts): NFC forms, refused characters, edge whitespace, the idle tenant.
    '\u00e9cole',
    'e\u0301cole',
    'e\u0301'.repeat(128),
    'e\u0301'.repeat(129),
    'ali\u202ece',
    'a\u2028b',
    'a\u2029b',
    'a\u200bb',
    'a\u00adb',
    '\ufeffa',
    'a\ud800b',
    '\udc00',
    '😀\ud83d',
    ' x',
    'x ',
    'x\u00a0',
    '\u3000x',
    '(idle)',
    '(idle) ',
    '👨\u200d👩',
  ),
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('e', '\u0301', '\u00e9', ' ', '\u202e', '\ud800', '\udc00', '\u2028') }),
  fc.integer(),
);
const baseEvent = fc.constantFrom(
  usage(),
  capacity(),
  usage({ firstTokenAt: '2026-11-22T00:00:15.000Z', queueMs: 12.5 }),
);
const mutated = fc
  .tuple(baseEvent, fc.array(fc.tuple(field, oddValue), { maxLength: 3 }))
  .map(([event, patches]) => {
    const copy = new Map<string, unknown>(Object.entries(event));
    for (const [key, value] of patches) {
      if (value === undefined) copy.delete(key);
      else copy.set(key, value);
    }
    return Object.fromEntries(copy);
  });

describe('fast path agrees with the zod schemas', () => {
  it('gives the same verdict and record for mutated events', () => {
    fc.assert(
      fc.property(mutated, (value) => {
        const slow = parseEvent(value);
        const fast = parseRecord(value);
        expect(fast.ok).toBe(slow.ok);
        if (slow.ok && fast.ok && slow.event.type !== 'evaluation') {
          const expected = slow.event.type === 'usage' ? usageRecord(slow.event) : capacityRecord(slow.event);
          expect(fast.record).toEqual(expected);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
