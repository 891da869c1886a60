import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocatePod, canonicalOrder, type PodAllocation } from '../../src/domain/allocation.js';
import { parseRecord } from '../../src/domain/fast-parse.js';
import type { UsageRecord } from '../../src/domain/records.js';
import { DEFAULT_WEIGHTING, recomputeWork, type Weighting } from '../../src/domain/weighting.js';
import { at, DAY, ONE_GPU, TEST_PRICES, usage } from '../helpers/events.js';

const dayStart = Date.parse(`${DAY}T00:00:00Z`) * 1000;
const dayEnd = dayStart + 86_400_000_000;

function record(fields: Record<string, unknown>): UsageRecord {
  const result = parseRecord(usage(fields));
  if (!result.ok || result.record === null || result.record.type !== 'usage') throw new Error('not usage');
  return result.record;
}

/** A long-context request decoding 10 s beside a chat request; `stalls` its attribute, if any. */
function pod(weighting: Weighting, stalls?: string): { allocation: PodAllocation; long: UsageRecord } {
  const long = record({
    eventId: 'long',
    startedAt: at(10),
    firstTokenAt: at(10),
    finishedAt: at(20),
    promptTokens: 2000,
    completionTokens: 101,
    ...(stalls === undefined ? {} : { attributes: { stalls } }),
  });
  const chat = record({
    eventId: 'chat',
    startedAt: at(10),
    firstTokenAt: at(10),
    finishedAt: at(20),
    promptTokens: 100,
    completionTokens: 1001,
  });
  const allocation = allocatePod(
    {
      pod: 'pod-a',
      model: 'llama-8b',
      gpuSku: ONE_GPU,
      gpuCount: 1,
      windows: [{ start: dayStart, end: dayStart + 100_000_000 }],
      requests: [long, chat].sort(canonicalOrder),
    },
    dayStart,
    dayEnd,
    TEST_PRICES,
    weighting,
  );
  return { allocation, long };
}

const shareOf = (allocation: PodAllocation, eventId: string) => {
  const share = allocation.shares.find((s) => s.request.eventId === eventId);
  if (share === undefined) throw new Error(`no share for ${eventId}`);
  return share;
};

describe('a stalled request is charged a recompute of its context (docs/accounting.md#recompute-preemption)', () => {
  it('as prefill work spread over the stall, its decode over the rest of its window', () => {
    const plain = pod(DEFAULT_WEIGHTING);
    // Stalled 2 s after 4 s of decoding, with 50 tokens made: prompt + 50 prefilled again.
    const stalled = pod(DEFAULT_WEIGHTING, '4000/2000/50');
    expect(stalled.long.stalls).toEqual([{ atMs: 4000, gapMs: 2000, tokens: 50 }]);
    const work = recomputeWork(DEFAULT_WEIGHTING, stalled.long, 50) * 1000; // GPU-µs
    expect(work).toBeGreaterThan(150_000);

    const before = shareOf(plain.allocation, 'long');
    const after = shareOf(stalled.allocation, 'long');
    // Its first prefill took no time: every prefill microsecond it has now is the recompute's.
    expect(before.prefillGpuMicros).toBe(0);
    expect(after.prefillGpuMicros).toBeGreaterThan(work - 2);
    expect(after.prefillGpuMicros).toBeLessThan(work + 2);
    // Its decode work is the same tokens at the same cost, in 8 s instead of 10.
    expect(Math.abs(after.decodeGpuMicros - before.decodeGpuMicros)).toBeLessThanOrEqual(2);
    // The recompute came out of the fixed part the two shared equally: the chat request pays half
    // of it, and the pod's time is the same.
    const chatBefore = shareOf(plain.allocation, 'chat').gpuMicros;
    const chatAfter = shareOf(stalled.allocation, 'chat').gpuMicros;
    expect(Math.abs(chatBefore - chatAfter - work / 2)).toBeLessThanOrEqual(2);
    expect(after.gpuMicros + chatAfter).toBe(before.gpuMicros + chatBefore);
    expect(stalled.allocation.idleGpuMicros).toBe(plain.allocation.idleGpuMicros);
  });

  it('leaves time-share as it was, and an ignored attribute changes nothing', () => {
    const timeShare: Weighting = { kind: 'time-share' };
    expect(shareOf(pod(timeShare, '4000/2000/50').allocation, 'long').gpuMicros).toBe(
      shareOf(pod(timeShare).allocation, 'long').gpuMicros,
    );
    const hostile = pod(DEFAULT_WEIGHTING, '4000/99999999/50');
    expect(hostile.long.stalls).toBeUndefined();
    expect(hostile.long.stallsIgnored).toContain('outside the decode window');
    expect(shareOf(hostile.allocation, 'long').gpuMicros).toBe(
      shareOf(pod(DEFAULT_WEIGHTING).allocation, 'long').gpuMicros,
    );
  });

  it('charges a request running past midnight the part of its stall in the day', () => {
    const late = (stalls?: string) =>
      record({
        eventId: 'late',
        startedAt: at(86_390),
        firstTokenAt: at(86_390),
        finishedAt: at(86_410),
        promptTokens: 2000,
        completionTokens: 101,
        ...(stalls === undefined ? {} : { attributes: { stalls } }),
      });
    const allocate = (request: UsageRecord) =>
      allocatePod(
        {
          pod: 'pod-a',
          model: 'llama-8b',
          gpuSku: ONE_GPU,
          gpuCount: 1,
          windows: [{ start: dayStart, end: dayEnd + 60_000_000 }],
          requests: [request],
        },
        dayStart,
        dayEnd,
        TEST_PRICES,
        DEFAULT_WEIGHTING,
      );
    // Stalled from 8 s to 12 s after its first token: 2 s of it in the day, 2 s after midnight.
    const plain = allocate(late()).shares[0];
    // Alone on the pod it gets the day's 10 s whatever it did; of its marginal work, the
    // recompute's half that fell in the day is prefill.
    const request = late('8000/4000/50');
    const half = (recomputeWork(DEFAULT_WEIGHTING, request, 50) * 1000) / 2;
    const share = allocate(request).shares[0];
    expect(share?.gpuMicros).toBe(10_000_000);
    expect(Math.abs((share?.prefillGpuMicros ?? 0) - half)).toBeLessThanOrEqual(2);
    expect(plain?.prefillGpuMicros).toBe(0);
  });

  it('clips a stall that runs past the end of the window to it', () => {
    // 9,999 + 5 ms rounds past the window's 10 s: allowed by the parse's rounding, clipped here.
    const { allocation, long } = pod(DEFAULT_WEIGHTING, '9999/3/99');
    expect(long.stalls).toHaveLength(1);
    const share = shareOf(allocation, 'long');
    expect(share.prefillGpuMicros + share.decodeGpuMicros + share.fixedGpuMicros).toBe(share.gpuMicros);
    expect(Number.isFinite(share.gpuMicros)).toBe(true);
  });

  it('never throws and keeps the pod’s time whole, whatever the attribute says', () => {
    const entry = fc
      .tuple(
        fc.integer({ min: 0, max: 12_000 }),
        fc.integer({ min: 0, max: 12_000 }),
        fc.integer({ min: 0, max: 120 }),
      )
      .map(([a, g, t]) => `${a}/${g}/${t}`);
    const attribute = fc.oneof(
      fc.array(entry, { maxLength: 20 }).map((parts) => parts.join(',')),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(attribute, attribute, (first, second) => {
        const plain = pod(DEFAULT_WEIGHTING);
        const { allocation } = pod(DEFAULT_WEIGHTING, first);
        const other = pod(DEFAULT_WEIGHTING, second).allocation;
        for (const a of [allocation, other]) {
          const busy = a.shares.reduce((sum, s) => sum + s.gpuMicros, 0);
          expect(busy + a.idleGpuMicros).toBe(plain.allocation.fleetGpuMicros);
          for (const s of a.shares) {
            expect(Number.isSafeInteger(s.gpuMicros) && s.gpuMicros >= 0).toBe(true);
            expect(s.prefillGpuMicros + s.decodeGpuMicros + s.fixedGpuMicros).toBe(s.gpuMicros);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
