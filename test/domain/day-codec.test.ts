import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Intake } from '../../src/domain/accumulator.js';
import { decodeEquations } from '../../src/domain/calibration/fit.js';
import { computeChargeback, type ChargebackResult, type IdlePolicy } from '../../src/domain/chargeback.js';
import {
  decodeChargeback,
  decodeFitEquations,
  decodeIntake,
  encodeChargeback,
  encodeFitEquations,
  encodeIntake,
  type FitEquations,
} from '../../src/domain/day-codec.js';
import { parseDay } from '../../src/domain/days.js';
import { PermanentError } from '../../src/domain/errors.js';
import { mergeChargeback } from '../../src/domain/merge-chargeback.js';
import type { CapacityRecord, UsageRecord } from '../../src/domain/records.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../../src/domain/weighting.js';
import { DAY, ONE_GPU, TEST_PRICES } from '../helpers/events.js';

const day = parseDay(DAY) ?? { start: 0, end: 0 };
const SECOND = 1_000_000;

// Names the reports may hold (`__proto__`, quotes, a formula) and ones validation refuses (a line
// separator, lone surrogates, a NUL) but the codec must carry all the same.
const HOSTILE = [
  '__proto__',
  'constructor',
  'a"b\\c',
  '=cmd',
  'école',
  'x\u2028y',
  '\ud800',
  'z\udc00',
  'n\u0000',
];

function request(fields: Partial<UsageRecord> & { startS: number; endS: number }): UsageRecord {
  const { startS, endS, ...rest } = fields;
  return {
    type: 'usage',
    eventId: `u-${startS}-${endS}-${rest.tenant ?? ''}`,
    requestId: 'r',
    tenant: 'acme',
    feature: 'chat',
    model: 'llama-8b',
    requestClass: 'interactive',
    pod: 'pod-a',
    gpuSku: ONE_GPU,
    gpuCount: 1,
    startedAt: day.start + Math.round(startS * SECOND),
    firstTokenAt: null,
    finishedAt: day.start + Math.round(endS * SECOND),
    promptTokens: 100,
    cachedPromptTokens: 0,
    completionTokens: 50,
    queueMs: 0,
    status: 'ok',
    ...rest,
  };
}

function window(pod: string, startS: number, endS: number): CapacityRecord {
  return {
    type: 'capacity',
    eventId: `c-${pod}-${startS}`,
    model: 'llama-8b',
    pod,
    gpuSku: ONE_GPU,
    gpuCount: 1,
    windowStart: day.start + startS * SECOND,
    windowEnd: day.start + endS * SECOND,
  };
}

interface Day {
  usage: UsageRecord[];
  capacity: CapacityRecord[];
  idle: IdlePolicy;
  weighting: Weighting;
}

function chargeback(d: Day, keepRequests = false): ChargebackResult {
  return computeChargeback({
    date: DAY,
    dayStart: day.start,
    dayEnd: day.end,
    prices: TEST_PRICES,
    keepRequests,
    ...d,
  });
}

const PODS = ['pod-a', 'pod-b', 'pod-c'];
const requestArb = fc
  .record({
    pod: fc.constantFrom(...PODS),
    tenant: fc.constantFrom('acme', ...HOSTILE),
    feature: fc.constantFrom('chat', '"search"'),
    startS: fc.integer({ min: -600_000, max: 86_390_000 }).map((ms) => ms / 1000),
    lengthUs: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 600 * SECOND })),
    firstToken: fc.boolean(),
    queueMs: fc.double({ min: 0, max: 5000, noNaN: true }),
    status: fc.constantFrom('ok' as const, 'error' as const, 'aborted' as const),
  })
  .map(({ startS, lengthUs, firstToken, ...r }) => {
    const base = request({ ...r, startS, endS: startS });
    const finishedAt = base.startedAt + lengthUs;
    return {
      ...base,
      eventId: `u-${base.startedAt}-${lengthUs}-${r.pod}`,
      finishedAt,
      firstTokenAt: firstToken ? base.startedAt + Math.floor(lengthUs / 2) : null,
    };
  });
const windowArb = fc
  .record({
    pod: fc.constantFrom(...PODS),
    start: fc.integer({ min: -200, max: 86_300 }),
    length: fc.nat(400),
  })
  .map(({ pod, start, length }) => window(pod, start, start + length + 1));
const dayArb: fc.Arbitrary<Day> = fc.record({
  usage: fc.array(requestArb, { maxLength: 40 }),
  capacity: fc.array(windowArb, { maxLength: 8 }),
  idle: fc.constantFrom('separate' as const, 'share' as const),
  weighting: fc.constantFrom(DEFAULT_WEIGHTING, { kind: 'time-share' as const }),
});

function withoutRequestCosts(result: ChargebackResult): ChargebackResult {
  const { requestCosts: _, ...rest } = result;
  return rest;
}

const SAMPLE: Day = {
  usage: [
    request({ tenant: '__proto__', startS: 10, endS: 10.0004 }),
    request({ tenant: 'a"b\\c', feature: 'x\u2028y', startS: 12, endS: 13.5, status: 'error' }),
    request({
      tenant: '\ud800',
      pod: 'pod-b',
      startS: 20,
      endS: 21.2,
      firstTokenAt: day.start + 20.5 * SECOND,
    }),
  ],
  capacity: [window('pod-a', 0, 100), window('pod-b', 0, 50)],
  idle: 'separate',
  weighting: { kind: 'time-share' },
};
const sampleText = encodeChargeback(chargeback(SAMPLE));

/** A field to change, by its path, what becomes of it (REMOVE: the field goes), and the reason expected. */
type Damage = readonly [
  what: string,
  path: readonly (string | number)[],
  to: (old: unknown) => unknown,
  reason: string,
];
const REMOVE = Symbol('remove');

/** `text` with the JSON value at `path` replaced by `to` of it. */
function damaged(text: string, path: readonly (string | number)[], to: (old: unknown) => unknown): string {
  const json: unknown = JSON.parse(text);
  let at = json as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path.at(-1) ?? '';
  const value = to(at[last]);
  if (value === REMOVE) Reflect.deleteProperty(at, last);
  else at[last] = value;
  return JSON.stringify(json);
}

const push =
  (item: unknown) =>
  (old: unknown): unknown[] => [...(old as unknown[]), item];

/** `decode` throws a PermanentError whose message holds `reason`. */
function expectRefused(decode: () => unknown, reason: string): void {
  let thrown: unknown;
  try {
    decode();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(PermanentError);
  expect((thrown as Error).message).toContain(reason);
}

describe('chargeback codec', () => {
  it('reads back exactly what it wrote, for random days', () => {
    fc.assert(
      fc.property(dayArb, (d) => {
        const result = chargeback(d);
        expect(decodeChargeback(encodeChargeback(result))).toStrictEqual(result);
      }),
      { numRuns: 150 },
    );
  });

  it('leaves out the request costs, which travel apart', () => {
    const result = chargeback(SAMPLE, true);
    expect(decodeChargeback(encodeChargeback(result))).toStrictEqual(withoutRequestCosts(result));
  });

  it('merges decoded units into what the originals merge into', () => {
    fc.assert(
      fc.property(dayArb, fc.subarray(PODS), (d, firstUnit) => {
        const inUnit = (unit: boolean) => (r: { pod: string }) => firstUnit.includes(r.pod) === unit;
        const parts = [true, false].map((unit) =>
          chargeback({
            ...d,
            usage: d.usage.filter(inUnit(unit)),
            capacity: d.capacity.filter(inUnit(unit)),
          }),
        );
        const decoded = parts.map((part) => decodeChargeback(encodeChargeback(part)));
        expect(mergeChargeback(decoded)).toStrictEqual(mergeChargeback(parts));
      }),
      { numRuns: 100 },
    );
  });

  it('writes the same text again from what it read', () => {
    expect(encodeChargeback(decodeChargeback(sampleText))).toBe(sampleText);
  });

  it('keeps hostile names as they were', () => {
    const tenants = decodeChargeback(sampleText).rows.map((r) => [r.tenant, r.feature]);
    expect(tenants).toEqual(
      expect.arrayContaining([
        ['__proto__', 'chat'],
        ['a"b\\c', 'x\u2028y'],
        ['\ud800', 'chat'],
      ]),
    );
  });

  it('keeps the latency counts of a row', () => {
    const row = decodeChargeback(sampleText).rows.find((r) => r.tenant === '\ud800');
    expect([...(row?.latencies.entries() ?? [])]).toEqual([[1200, 1]]);
  });

  it.each<Damage>([
    ['another kind', ['kind'], () => 'intake', 'chargeback: kind is "intake", not "chargeback"'],
    ['another version', ['version'], () => 3, 'chargeback: version 3; this code reads 2'],
    ['a missing total', ['fleetNanos'], () => REMOVE, 'chargeback: fleetNanos'],
    ['money as text', ['rows', 0, 'nanos'], String, 'chargeback: rows[0].nanos'],
    ['a fractional count', ['rows', 1, 'promptTokens'], () => 1.5, 'chargeback: rows[1].promptTokens'],
    [
      'a negative count',
      ['podTotals', 0, 'fleetGpuMicros'],
      () => -1,
      'chargeback: podTotals[0].fleetGpuMicros',
    ],
    ['an unexpected field', ['rows', 0, 'extra'], () => 1, 'chargeback: rows[0] Unrecognized key: "extra"'],
    ['a tenant that is not text', ['rows', 0, 'tenant'], () => null, 'chargeback: rows[0].tenant'],
    [
      'damaged latencies',
      ['rows', 1, 'latencies', 'counts'],
      push(1),
      'chargeback: rows[1].latencies.counts has',
    ],
    [
      'latencies of other requests',
      ['rows', 1, 'latencies'],
      () => ({ ms: [], counts: [] }),
      'chargeback: rows[1].latencies count 0 requests, the row 1',
    ],
    [
      'a histogram of other requests',
      ['rows', 0, 'stats', 'histograms', 'latencyMs'],
      push(1),
      'chargeback: rows[0].stats.histograms.latencyMs counts',
    ],
    [
      'too many bins',
      ['rows', 0, 'stats', 'histograms', 'queueMs'],
      () => new Array<number>(1000).fill(0),
      'chargeback: rows[0].stats.histograms.queueMs has more bins than the queueMs edges',
    ],
    [
      'served of other requests',
      ['podTotals', 0, 'served', 'requestsWithFirstToken'],
      () => 5,
      'chargeback: podTotals[0].served.histograms.ttftMs',
    ],
    ['an idle flag on a tenant', ['rows', 1, 'idle'], () => true, 'chargeback: rows[1].idle is true'],
    [
      'totals that do not add up',
      ['fleetNanos'],
      (old) => Number(old) + 1,
      'chargeback: allocatedNanos + idleNanos is not fleetNanos',
    ],
    ['a pod count that is not the replicas', ['pods'], () => 3, 'chargeback: pods is 3 for 2 podTotals'],
    ['requests the rows do not hold', ['requests'], () => 4, 'chargeback: requests is 4, the rows 3'],
  ])('refuses %s, naming the field', (_, path, to, reason) => {
    expectRefused(() => decodeChargeback(damaged(sampleText, path, to)), reason);
  });

  it('refuses a row with a __proto__ key', () => {
    const text = sampleText.replace('"rows":[{', '"rows":[{"__proto__":{"idle":true},');
    expectRefused(() => decodeChargeback(text), 'chargeback: rows[0] Unrecognized key: "__proto__"');
  });

  it('refuses text that is not JSON', () => {
    expect(() => decodeChargeback(sampleText.slice(0, -1))).toThrow(/^chargeback: not JSON/);
  });
});

const reasonArb = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom(...HOSTILE));
const intakeArb: fc.Arbitrary<Intake> = fc.record(
  {
    counts: fc.record(
      {
        eventsRead: fc.nat(),
        usageEvents: fc.nat(),
        capacityEvents: fc.nat(),
        ignoredEvents: fc.nat(),
        duplicatesDropped: fc.nat(),
        rejected: fc.nat(),
      },
      { noNullPrototype: true },
    ),
    rejections: fc
      .uniqueArray(fc.tuple(reasonArb, fc.integer({ min: 1, max: 1e9 })), { selector: ([reason]) => reason })
      .map((pairs) => new Map(pairs)),
    span: fc.record({ firstUs: fc.maxSafeInteger(), lastUs: fc.maxSafeInteger() }, { noNullPrototype: true }),
  },
  { requiredKeys: ['counts', 'rejections'], noNullPrototype: true },
);

describe('intake codec', () => {
  it('reads back exactly what it wrote, rejections in their order', () => {
    fc.assert(
      fc.property(intakeArb, (intake) => {
        const decoded = decodeIntake(encodeIntake(intake));
        expect(decoded).toStrictEqual(intake);
        expect([...decoded.rejections.keys()]).toEqual([...intake.rejections.keys()]);
      }),
    );
  });

  const sample = encodeIntake({
    counts: {
      eventsRead: 3,
      usageEvents: 1,
      capacityEvents: 0,
      ignoredEvents: 0,
      duplicatesDropped: 0,
      rejected: 2,
    },
    rejections: new Map([
      ['__proto__', 1],
      ['tenant: must not contain U+2028 (line separator)', 1],
    ]),
    span: { firstUs: 1, lastUs: 2 },
  });

  it.each<Damage>([
    ['a repeated reason', ['rejections'], push(['__proto__', 1]), 'intake: rejections[2] repeats the reason'],
    ['a reason counted 0 times', ['rejections', 0, 1], () => 0, 'intake: rejections[0][1]'],
    ['a reason that is not text', ['rejections', 1, 0], () => 7, 'intake: rejections[1][0]'],
    ['a missing count', ['counts', 'rejected'], () => REMOVE, 'intake: counts.rejected'],
    ['half a span', ['span', 'lastUs'], () => REMOVE, 'intake: span.lastUs'],
    ['another kind', ['kind'], () => 'chargeback', 'intake: kind is "chargeback", not "intake"'],
  ])('refuses %s, naming the field', (_, path, to, reason) => {
    expectRefused(() => decodeIntake(damaged(sample, path, to)), reason);
  });
});

const equationsArb = fc
  .record({ n: fc.integer({ min: 0, max: 30 }), columns: fc.integer({ min: 1, max: 7 }) })
  .chain(({ n, columns }) =>
    fc.record({
      columns: fc.constant(columns),
      x: fc.float64Array({ minLength: n * columns, maxLength: n * columns }),
      y: fc.float64Array({ minLength: n, maxLength: n }),
      keys: fc.float64Array({ minLength: n, maxLength: n }),
      dropped: fc.nat(),
    }),
  );

/** The bytes of every number: NaN payloads and -0 must come back as they were. */
const bytesOf = (e: FitEquations) => [
  e.columns,
  e.dropped,
  ...[e.x, e.y, e.keys].map((a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))),
];

describe('fit equations codec', () => {
  it('reads back every number bit for bit', () => {
    fc.assert(
      fc.property(equationsArb, (equations) => {
        expect(bytesOf(decodeFitEquations(encodeFitEquations(equations)))).toEqual(bytesOf(equations));
      }),
    );
  });

  it('keeps -0 and the payload of a NaN', () => {
    const y = Float64Array.of(-0, 1);
    new DataView(y.buffer).setBigUint64(8, 0x7ff8_0000_0000_0001n, true);
    const equations = { columns: 4, x: new Float64Array(8), y, keys: Float64Array.of(NaN, -0), dropped: 3 };
    expect(bytesOf(decodeFitEquations(encodeFitEquations(equations)))).toEqual(bytesOf(equations));
  });

  it('reads back the equations of a real pod', () => {
    const equations = decodeEquations(
      Array.from({ length: 12 }, (_, i) =>
        request({
          startS: i,
          endS: i + 2.5,
          firstTokenAt: day.start + (i + 0.3) * SECOND,
          completionTokens: 40 + i,
        }),
      ),
    );
    expect(equations.y.length).toBe(12);
    expect(equations.x.length).toBe(12 * equations.columns);
    expect(decodeFitEquations(encodeFitEquations(equations))).toStrictEqual(equations);
  });

  it('reads back the equations of a pod of 300,000 requests (megabytes of base64)', () => {
    const y = Float64Array.from({ length: 300_000 }, (_, i) => i / 7);
    const x = Float64Array.from({ length: 6 * y.length }, (_, i) => i * 1.5);
    const equations = { columns: 6, x, y, keys: y.map((v) => v * 3), dropped: 12 };
    const back = decodeFitEquations(encodeFitEquations(equations));
    expect(back.x).toEqual(equations.x);
    expect(back.y).toEqual(y);
    expect(back.keys).toEqual(equations.keys);
    expect(back.dropped).toBe(12);
  });

  it('refuses to write x that is not one row of columns per y', () => {
    const y = new Float64Array(2);
    const keys = new Float64Array(2);
    expect(() => encodeFitEquations({ columns: 4, x: new Float64Array(7), y, keys, dropped: 0 })).toThrow(
      '7 numbers of x for 2 equations of 4',
    );
    expect(() =>
      encodeFitEquations({ columns: 4, x: new Float64Array(8), y, keys: new Float64Array(1), dropped: 0 }),
    ).toThrow('1 keys for 2 equations');
  });

  const sample = encodeFitEquations({
    columns: 4,
    x: Float64Array.of(1, 2, 3, 4),
    y: Float64Array.of(5),
    keys: Float64Array.of(6),
    dropped: 0,
  });

  it.each<Damage>([
    ['x that is not base64', ['x'], () => 'not base64!', 'fit-equations: x must be base64'],
    [
      'bytes that are not whole numbers',
      ['y'],
      () => 'AAAA',
      'fit-equations: y has 3 bytes, not a multiple of 8',
    ],
    [
      'stray bits in the last character',
      ['y'],
      (old) => `${String(old).slice(0, -2)}B=`,
      'fit-equations: y is not canonical base64',
    ],
    [
      'fewer numbers than equations',
      ['equations'],
      () => 2,
      'fit-equations: x holds 4 numbers, not 2 equations of 4',
    ],
    ['a y per equation missing', ['y'], () => '', 'fit-equations: y holds 0 numbers, not 1'],
    ['a key per equation missing', ['keys'], () => '', 'fit-equations: keys holds 0 numbers, not 1'],
    ['a negative count of rows left out', ['dropped'], () => -1, 'fit-equations: dropped'],
    ['no version', ['version'], () => REMOVE, 'fit-equations: version (missing); this code reads 2'],
  ])('refuses %s, naming the field', (_, path, to, reason) => {
    expectRefused(() => decodeFitEquations(damaged(sample, path, to)), reason);
  });
});
