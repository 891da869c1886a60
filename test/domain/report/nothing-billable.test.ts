import { describe, expect, it } from 'vitest';
import { EventAccumulator, mergeIntake, noCounts, type Intake } from '../../../src/domain/accumulator.js';
import { parseRecord } from '../../../src/domain/fast-parse.js';
import { nothingBillable } from '../../../src/domain/report/nothing-billable.js';
import { at, capacity, DAY, TEST_PRICES, usage } from '../../helpers/events.js';

function intakeOf(events: readonly unknown[]): Intake {
  const accumulator = new EventAccumulator(TEST_PRICES);
  for (const event of events) accumulator.add(parseRecord(event, accumulator.intern));
  return accumulator.intake();
}

const NOTHING = { fleetNanos: 0, requests: 0, unmeteredRequests: 0 };

describe('nothingBillable', () => {
  it('passes a day with no events at all: a true $0 day', () => {
    expect(nothingBillable(DAY, intakeOf([]), NOTHING)).toBeUndefined();
  });

  it('passes a day with fleet cost, whatever else was read', () => {
    const intake = intakeOf([usage({ gpuSku: 'NOPE' }), capacity()]);
    expect(nothingBillable(DAY, intake, { ...NOTHING, fleetNanos: 1 })).toBeUndefined();
  });

  it('fails a day whose events were all rejected, with the reasons by count', () => {
    const intake = intakeOf([usage({ gpuSku: 'NOPE' }), usage({ gpuSku: 'NOPE' }), 'not an event']);
    expect(nothingBillable(DAY, intake, NOTHING)).toMatch(
      /3 rejected \(2 × gpuSku: "NOPE" is not on the price card; 1 × /,
    );
  });

  it('fails a day with requests and no fleet cost, naming the unmetered requests', () => {
    const intake = intakeOf([usage()]);
    expect(nothingBillable(DAY, intake, { fleetNanos: 0, requests: 1, unmeteredRequests: 1 })).toContain(
      '1 request(s) finished on the day and the bill is 0: 1 of them unmetered',
    );
  });

  it('names the days the events span, rejected ones included', () => {
    const intake = intakeOf([usage({ startedAt: at(-100), finishedAt: at(-90) }), usage({ gpuSku: 'NOPE' })]);
    expect(nothingBillable(DAY, intake, NOTHING)).toContain(
      'read 2 event(s) spanning 2026-11-21 to 2026-11-22',
    );
  });

  it('counts conflicting versions of an eventId among the rejections', () => {
    const intake = intakeOf([usage({ eventId: 'x' }), usage({ eventId: 'x', promptTokens: 7 })]);
    expect([...intake.rejections]).toEqual([['eventId has another version, which was kept', 1]]);
  });

  it('counts rejections with no reason given (dead letters merged in) as other reasons', () => {
    const deadLetters: Intake = {
      counts: { ...noCounts(), eventsRead: 4, rejected: 4 },
      rejections: new Map(),
    };
    const intake = mergeIntake(intakeOf([usage({ gpuSku: 'NOPE' })]), deadLetters);
    expect(nothingBillable(DAY, intake, NOTHING)).toContain(
      '5 rejected (1 × gpuSku: "NOPE" is not on the price card; 4 for other reasons)',
    );
  });
});

describe('mergeIntake', () => {
  it('gives what reading both sets together gives', () => {
    const a = [usage({ gpuSku: 'NOPE' }), usage({ startedAt: at(-50), finishedAt: at(-40) })];
    const b = [capacity({ windowStart: at(100), windowEnd: at(90_000) }), usage({ gpuSku: 'NOPE' })];
    expect(mergeIntake(intakeOf(a), intakeOf(b))).toEqual(intakeOf([...a, ...b]));
  });
});
