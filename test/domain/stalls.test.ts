import { describe, expect, it } from 'vitest';
import { parseRecord } from '../../src/domain/fast-parse.js';
import { parseEvent } from '../../src/domain/events.js';
import { usageRecord, type UsageRecord } from '../../src/domain/records.js';
import {
  formatStalls,
  isStall,
  MAX_STALLS,
  parseStalls,
  StallDetector,
  StepClock,
  STALL_MIN_MS,
} from '../../src/domain/stalls.js';
import { at, usage } from '../helpers/events.js';

/** Feeds the detector tokens `gap` ms apart, one pod step each, from `start`; returns the next step. */
function steady(detector: StallDetector, start: number, step: number, tokens: number, gap: number): number {
  for (let k = 0; k < tokens; k += 1) detector.token(start + k * gap, step + k);
  return step + tokens;
}

describe('the stall rule (contracts.md §2 attributes.stalls)', () => {
  it('needs a missed step of the pod, a long gap, and a gap far above the stream’s own', () => {
    // A long step that every stream waited for is no stall, however long.
    expect(isStall(800, 0, 40, 30)).toBe(false);
    // The pod stepped on without it: a stall when long enough and twice its mean or more.
    expect(isStall(400, 3, 40, 30)).toBe(true);
    expect(isStall(STALL_MIN_MS - 1, 3, 40, 10)).toBe(false);
    expect(isStall(55, 2, 40, 30)).toBe(false);
    // After the first token there is no mean to compare with.
    expect(isStall(60, 1, 0, 0)).toBe(true);
  });

  it('finds a recompute stall in a stream and leaves a slow but steady one alone', () => {
    const detector = new StallDetector();
    let step = steady(detector, 1000, 1, 20, 30); // tokens at 1000 .. 1570
    // Preempted: the pod made 12 steps without it, then it resumes.
    step += 12;
    steady(detector, 1570 + 700, step, 10, 30);
    expect(detector.stalls).toEqual([{ atMs: 570, gapMs: 700, tokens: 20 }]);

    const slow = new StallDetector();
    // A 700 ms step with a full prefill budget in it, which every stream sat through.
    let s = steady(slow, 0, 1, 10, 30);
    slow.token(270 + 700, s);
    s += 1;
    steady(slow, 1000, s, 10, 30);
    expect(slow.stalls).toEqual([]);
  });

  it('keeps at most MAX_STALLS and counts tokens that came in one piece', () => {
    const detector = new StallDetector();
    let t = 0;
    let step = 1;
    detector.token(t, step, 3); // three tokens in one read
    for (let k = 0; k < MAX_STALLS + 4; k += 1) {
      t += 1000;
      step += 5;
      detector.token(t, step);
    }
    expect(detector.stalls).toHaveLength(MAX_STALLS);
    expect(detector.stalls[0]).toEqual({ atMs: 0, gapMs: 1000, tokens: 3 });
  });

  it('counts a burst of arrivals as one step of the pod', () => {
    const clock = new StepClock();
    expect([clock.tick(0), clock.tick(0.5), clock.tick(1.9), clock.tick(30), clock.tick(31)]).toEqual([
      1, 1, 1, 2, 2,
    ]);
  });
});

describe('the attribute’s text', () => {
  it('round-trips in whole ms', () => {
    const text = formatStalls([
      { atMs: 570.4, gapMs: 700.6, tokens: 20 },
      { atMs: 2000, gapMs: 90, tokens: 50 },
    ]);
    expect(text).toBe('570/701/20,2000/90/50');
    expect(parseStalls(text, 60, 5000)).toEqual({
      stalls: [
        { atMs: 570, gapMs: 701, tokens: 20 },
        { atMs: 2000, gapMs: 90, tokens: 50 },
      ],
    });
  });

  it.each([
    ['-5/100/3', 'is not atMs/gapMs/tokens'],
    ['1e3/100/3', 'is not atMs/gapMs/tokens'],
    ['10/100', 'is not atMs/gapMs/tokens'],
    ['10/100/3,', 'is not atMs/gapMs/tokens'],
    ['10/100/0', 'tokens out of order'],
    ['10/100/60', 'not before the last token'],
    ['10/100/9,500/100/8', 'tokens out of order'],
    ['500/100/3,10/100/8', 'outside the decode window'],
    ['4000/2000/3', 'outside the decode window'],
    [Array.from({ length: MAX_STALLS + 1 }, (_, k) => `${k * 10}/5/${k + 1}`).join(','), 'over 16'],
    ['9'.repeat(10_000), 'over the limit'],
  ])('refuses %s with a reason', (text, reason) => {
    const parsed = parseStalls(text, 60, 5000);
    expect('reason' in parsed && parsed.reason).toContain(reason);
  });
});

describe('reading attributes.stalls from an event', () => {
  const streamed = (stalls: string): Record<string, unknown> =>
    usage({
      startedAt: at(10),
      firstTokenAt: at(11),
      finishedAt: at(15),
      completionTokens: 60,
      attributes: { stalls, other: 'x' },
    });

  const record = (json: Record<string, unknown>): UsageRecord => {
    const result = parseRecord(json);
    if (!result.ok || result.record === null || result.record.type !== 'usage')
      throw new Error('not a usage record');
    return result.record;
  };

  it('keeps sound stalls on the record, the same on the fast path and through the schema', () => {
    const json = streamed('570/700/20');
    expect(record(json).stalls).toEqual([{ atMs: 570, gapMs: 700, tokens: 20 }]);
    const event = parseEvent(json);
    if (!event.ok || event.event.type !== 'usage') throw new Error('not a usage event');
    expect(usageRecord(event.event).stalls).toEqual(record(json).stalls);
  });

  it('accepts the event but ignores hostile stalls, with the reason on the record', () => {
    for (const hostile of ['570/99999999/20', 'NaN/1/1', '1/1/1'.repeat(400), '__proto__']) {
      const r = record(streamed(hostile));
      expect(r.stalls).toBeUndefined();
      expect(r.stallsIgnored).toMatch(/stalls/);
      expect(r.completionTokens).toBe(60);
    }
    const noFirst = record({ ...streamed('570/700/20'), firstTokenAt: null });
    expect(noFirst.stalls).toBeUndefined();
    expect(noFirst.stallsIgnored).toBe('stalls on an event without a first token');
  });
});
