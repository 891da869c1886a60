import { describe, expect, it } from 'vitest';
import { makeReplayDeadLetters } from '../../functions/replayDeadLetters.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { HttpRequest, quietContext } from '../../dev/functions-runtime.js';
import { at, DAY, usage } from '../helpers/events.js';
import { FIXED_PRICES, NEW_SKU } from '../helpers/repair.js';

function post(query: string) {
  return new HttpRequest({ method: 'POST', url: `http://localhost/api/ops/deadletters/replay${query}` });
}

async function withOneLetter(): Promise<MemoryLedger> {
  const ledger = new MemoryLedger();
  await ledger.deadLetter([
    {
      partition: '0',
      sequenceNumber: 4,
      enqueuedTime: at(100),
      reason: `gpuSku: "${NEW_SKU}" is not on the price card`,
      body: JSON.stringify(usage({ gpuSku: NEW_SKU, gpuCount: 2 })),
    },
  ]);
  return ledger;
}

describe('replayDeadLetters (HTTP)', () => {
  it('replays the dead letters of a day and answers the outcome as JSON; a dry run writes nothing', async () => {
    const ledger = await withOneLetter();
    const handler = makeReplayDeadLetters(() =>
      Promise.resolve({ ledger, prices: FIXED_PRICES, now: () => new Date('2026-11-23T09:00:00Z') }),
    );
    const dry = await handler(post(`?day=${DAY}&dryRun=true`), quietContext());
    expect(dry).toMatchObject({ status: 200, jsonBody: { dryRun: true, replayed: 1, left: 0 } });
    expect(ledger.deadLetters().length).toBe(1);
    const done = await handler(post(`?from=${DAY}&to=${DAY}`), quietContext());
    expect(done).toMatchObject({
      status: 200,
      jsonBody: { from: DAY, to: DAY, dryRun: false, replayed: 1, left: 0, dirtyDays: [DAY] },
    });
    expect(ledger.deadLetters()).toEqual([]);
    expect((await ledger.segmentsFor(DAY)).map((s) => s.events)).toEqual([1]);
  });

  it('answers 400 with the reason for a bad day, range or flag, before touching the ledger', async () => {
    const handler = makeReplayDeadLetters(() => Promise.reject(new Error('must not be reached')));
    for (const [query, error] of [
      ['?day=2026-02-30', 'day must be a calendar day YYYY-MM-DD, got "2026-02-30"'],
      [`?day=${DAY}&to=${DAY}`, 'give day, or from and to, not both'],
      [`?from=2026-11-23&to=${DAY}`, `from 2026-11-23 is after to ${DAY}`],
      ['?dryRun=yes', 'dryRun must be true or false, got "yes"'],
    ]) {
      expect(await handler(post(query ?? ''), quietContext())).toEqual({ status: 400, jsonBody: { error } });
    }
  });
});
