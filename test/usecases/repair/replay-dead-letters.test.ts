import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../../src/ports/ledger.js';
import { reportDay } from '../../../src/usecases/daily/daily-run.js';
import { ingestBatch, type DeliveredMessage } from '../../../src/usecases/ingest/ingest.js';
import { replayDeadLetters } from '../../../src/usecases/repair/replay-dead-letters.js';
import { at, capacity, DAY, TEST_PRICES, usage } from '../../helpers/events.js';
import { dailyDeps, FIXED_PRICES, NEW_SKU, STORES, type Stores } from '../../helpers/repair.js';

const NOW = () => new Date('2026-11-23T09:00:00Z');

function delivered(bodies: unknown[], first: number, partition = '0'): DeliveredMessage[] {
  return bodies.map((body, i) => ({
    body: JSON.stringify(body),
    partition,
    sequenceNumber: first + i,
    enqueuedTime: at(200 + first + i),
  }));
}

/** pod-a on a priced SKU; pod-b, its capacity and two requests, on a SKU the card lacks. */
function traffic(): unknown[] {
  const b = { pod: 'pod-b', gpuSku: NEW_SKU, gpuCount: 2 };
  return [capacity(), usage(), capacity(b), usage(b), usage({ ...b, startedAt: at(30), finishedAt: at(40) })];
}

async function summary(stores: Stores): Promise<Record<string, unknown>> {
  await reportDay(DAY, dailyDeps(stores, FIXED_PRICES, NOW));
  return JSON.parse((await stores.reports.summary(DAY)) ?? '{}') as Record<string, unknown>;
}

async function letters(stores: Stores): Promise<DeadLetter[]> {
  const all: DeadLetter[] = [];
  for await (const letter of stores.ledger.deadLettersBetween(undefined, undefined)) all.push(letter);
  return all;
}

const replay = (stores: Stores, dryRun = false) =>
  replayDeadLetters({ ledger: stores.ledger, prices: FIXED_PRICES, now: NOW }, { dryRun });

describe.each(STORES)('replaying dead letters: %s', (_name, make) => {
  it('after the price card is fixed, counts the events once in the next report; a second run replays nothing', async () => {
    const stores = await make();
    await ingestBatch(delivered(traffic(), 0), { ledger: stores.ledger, prices: TEST_PRICES, now: NOW });
    expect(await summary(stores)).toMatchObject({ usageEvents: 1, capacityEvents: 1, rejected: 3 });

    const first = await replay(stores);
    expect(first).toMatchObject({ replayed: 3, alreadyInLedger: 0, left: 0, stillFailing: [] });
    expect(first.dirtyDays).toEqual([DAY]);
    expect((await stores.ledger.dirtyDays(DAY)).map((d) => d.day)).toEqual([DAY]);
    expect(await summary(stores)).toMatchObject({
      usageEvents: 3,
      capacityEvents: 2,
      rejected: 0,
      duplicatesDropped: 0,
      fleetCostUsd: 0.3, // pod-a 100 s x 1 GPU + pod-b 100 s x 2 GPUs, at $0.001 per GPU-second
    });

    expect(await replay(stores)).toMatchObject({ replayed: 0, alreadyInLedger: 0, left: 0 });
    expect(await summary(stores)).toMatchObject({ usageEvents: 3, capacityEvents: 2, rejected: 0 });
  });

  it('a dry run counts what it would do and writes nothing', async () => {
    const stores = await make();
    await ingestBatch(delivered(traffic(), 0), { ledger: stores.ledger, prices: TEST_PRICES, now: NOW });
    expect(await replay(stores, true)).toMatchObject({ replayed: 3, left: 0, dirtyDays: [DAY] });
    expect((await letters(stores)).length).toBe(3);
    expect(await stores.ledger.dirtyDays('2026-11-23')).toEqual([]);
    expect((await stores.ledger.segmentsFor(DAY)).length).toBe(1);
  });

  it('keeps what still fails, with today’s reason, grouped by reason', async () => {
    const stores = await make();
    const unknown = [usage({ gpuSku: 'TEST_UNKNOWN' }), usage({ gpuSku: 'TEST_UNKNOWN' })];
    const messages = delivered(unknown, 0);
    // A body that is not JSON, as it arrived (delivered() would send it as a JSON string).
    messages.push({ partition: '0', sequenceNumber: 2, enqueuedTime: at(300), body: '{"type":' });
    await ingestBatch(messages, { ledger: stores.ledger, prices: TEST_PRICES, now: NOW });
    const outcome = await replay(stores);
    expect(outcome.replayed).toBe(0);
    expect(outcome.left).toBe(3);
    expect(outcome.stillFailing.map((f) => f.count)).toEqual([2, 1]);
    expect(outcome.stillFailing[0]?.reason).toBe('gpuSku: "TEST_UNKNOWN" is not on the price card');
    expect(outcome.stillFailing[1]?.reason).toMatch(/^not valid JSON/);
    expect((await letters(stores)).length).toBe(3);
  });

  it('says why a body kept as base64, a description or cut short cannot be replayed, once', async () => {
    const stores = await make();
    const base: Omit<DeadLetter, 'sequenceNumber'> = {
      partition: '0',
      enqueuedTime: at(100),
      reason: 'not valid UTF-8',
      body: '',
    };
    await stores.ledger.deadLetter([
      { ...base, sequenceNumber: 1, body: '/w==', bodyForm: 'base64', bodyBytes: 1 },
      {
        ...base,
        sequenceNumber: 2,
        reason: 'cannot be serialised as JSON: cyclic',
        body: '<ref *1> {}',
        bodyForm: 'description',
      },
      {
        ...base,
        sequenceNumber: 3,
        reason: 'not valid JSON: cut',
        body: '{"a":',
        bodyBytes: 300_000,
        truncated: true,
      },
    ]);
    await replay(stores);
    const reasons = (await letters(stores)).map((l) => l.reason);
    expect(reasons).toEqual([
      'cannot be replayed: the message is not UTF-8 text; only its bytes are kept, in base64; rejected at ingestion: not valid UTF-8',
      'cannot be replayed: the message had no JSON form; only a description of it is kept; rejected at ingestion: cannot be serialised as JSON: cyclic',
      'cannot be replayed: only the first 5 of its 300000 bytes are kept; rejected at ingestion: not valid JSON: cut',
    ]);
    await replay(stores);
    expect((await letters(stores)).map((l) => l.reason)).toEqual(reasons);
  });

  it('adds nothing for a message the ledger already holds, and only retires its dead letter', async () => {
    const stores = await make();
    const events = traffic();
    await ingestBatch(delivered(events, 0), { ledger: stores.ledger, prices: TEST_PRICES, now: NOW });
    // The same batch redelivered to an instance that already runs the fixed card, before any replay:
    // the mark is past pod-a's events, so only pod-b's are committed.
    const fresh = { ledger: stores.ledger, prices: FIXED_PRICES, now: NOW };
    const redelivery = await ingestBatch(delivered(events, 0), fresh);
    expect(redelivery.accepted).toBe(3);
    const segments = (await stores.ledger.segmentsFor(DAY)).length;
    expect(await replay(stores)).toMatchObject({ replayed: 0, alreadyInLedger: 3, left: 0 });
    expect((await stores.ledger.segmentsFor(DAY)).length).toBe(segments);
    expect(await summary(stores)).toMatchObject({
      usageEvents: 3,
      capacityEvents: 2,
      rejected: 0,
      duplicatesDropped: 0,
    });
  });

  it('finishes the move of a letter whose replay was committed before a crash', async () => {
    const stores = await make();
    await ingestBatch(delivered([usage({ gpuSku: NEW_SKU, gpuCount: 2 })], 7), {
      ledger: stores.ledger,
      prices: TEST_PRICES,
      now: NOW,
    });
    // What a run that stopped between the commit and the move leaves behind.
    const line = JSON.stringify(JSON.parse((await letters(stores))[0]?.body ?? ''));
    await stores.ledger.commitReplay({
      day: DAY,
      partition: '0',
      sequenceNumber: 7,
      line,
      usage: true,
      startMs: Date.parse(at(10)),
      endMs: Date.parse(at(20)),
    });
    expect(await replay(stores)).toMatchObject({ replayed: 0, alreadyInLedger: 1, left: 0 });
    expect(await summary(stores)).toMatchObject({ usageEvents: 1, rejected: 0 });
  });

  it('runs beside an ingestion of the same partition without a conflict', async () => {
    const stores = await make();
    await ingestBatch(delivered(traffic(), 0), { ledger: stores.ledger, prices: TEST_PRICES, now: NOW });
    const later = [
      usage({ startedAt: at(50), finishedAt: at(60) }),
      usage({ startedAt: at(70), finishedAt: at(80) }),
    ];
    const [ingested, replayed] = await Promise.all([
      ingestBatch(delivered(later, 5), { ledger: stores.ledger, prices: FIXED_PRICES, now: NOW }),
      replay(stores),
    ]);
    expect(ingested).toMatchObject({ accepted: 2, rejected: 0, duplicates: 0 });
    expect(replayed).toMatchObject({ replayed: 3, left: 0 });
    expect((await stores.ledger.highWater(DAY, '0')).sequenceNumber).toBe(6);
    expect(await summary(stores)).toMatchObject({ usageEvents: 5, capacityEvents: 2, rejected: 0 });
  });
});
