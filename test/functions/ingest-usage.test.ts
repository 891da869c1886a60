import { describe, expect, it } from 'vitest';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { TransientError } from '../../src/domain/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { MemoryLedger } from '../../src/ledger/memory-ledger.js';
import { invoke, type HubMessage } from '../../src/local/event-hub-delivery.js';
import { InvocationContext } from '../../src/local/functions-runtime.js';
import { at, capacity, TEST_PRICES, usage } from '../helpers/events.js';

const NOW = () => new Date('2026-11-23T00:10:00Z');

function handler(ledger: Ledger, retryDeadlineMs = 0) {
  return makeIngestUsage(() => Promise.resolve({ ledger, prices: TEST_PRICES, now: NOW, retryDeadlineMs }));
}

function messages(bodies: unknown[], firstSequence = 0): HubMessage[] {
  return bodies.map((body, i) => ({ body, sequenceNumber: firstSequence + i, enqueuedTime: at(100 + i) }));
}

async function ledgerLines(ledger: Ledger, day = '2026-11-22'): Promise<string[]> {
  const lines: string[] = [];
  for (const segment of await ledger.segmentsFor(day)) {
    lines.push(...(await ledger.readSegment(segment)).split('\n').filter((l) => l !== ''));
  }
  return lines.sort();
}

describe('ingestUsage handler', () => {
  it('accepts a batch into the ledger, one canonical line per event', async () => {
    const ledger = new MemoryLedger();
    const events = [capacity(), usage(), usage()];
    await invoke(handler(ledger), '0', messages(events));
    expect(await ledgerLines(ledger)).toEqual(events.map((e) => JSON.stringify(e)).sort());
  });

  it('dead-letters a bad message with its body, partition, sequence number, enqueued time and reason, and keeps the rest', async () => {
    const ledger = new MemoryLedger();
    const good = usage();
    await invoke(
      handler(ledger),
      '3',
      messages(['{"type":"usage",', good, usage({ completionTokens: -1 })], 40),
    );
    expect(await ledgerLines(ledger)).toEqual([JSON.stringify(good)]);
    const letters = ledger.deadLetters().sort((a, b) => a.sequenceNumber - b.sequenceNumber);
    expect(letters.map((l) => [l.partition, l.sequenceNumber, l.enqueuedTime])).toEqual([
      ['3', 40, at(100)],
      ['3', 42, at(102)],
    ]);
    expect(letters[0]?.body).toBe('{"type":"usage",');
    expect(letters[0]?.reason).toMatch(/^not valid JSON/);
    expect(letters[1]?.reason).toMatch(/^completionTokens: /);
  });

  it('rejects an unknown SKU naming it, and an evaluation event sent to the usage hub', async () => {
    const ledger = new MemoryLedger();
    await invoke(
      handler(ledger),
      '0',
      messages([
        usage({ gpuSku: 'Standard_NV6' }),
        {
          type: 'evaluation',
          schemaVersion: 1,
          eventId: 'e-1',
          model: 'llama-8b',
          modelVersion: '3',
          dataset: 'golden@1',
          metrics: { exact_match: 0.8 },
          evaluatedAt: at(5),
        },
      ]),
    );
    const reasons = ledger.deadLetters().map((l) => l.reason);
    expect(reasons.some((r) => r.includes('"Standard_NV6" is not on the price card'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('type: '))).toBe(true);
  });

  it('takes a redelivered, differently cut batch without adding anything twice', async () => {
    const ledger = new MemoryLedger();
    const all = messages(Array.from({ length: 10 }, () => usage()));
    await invoke(handler(ledger), '0', all.slice(0, 6));
    const once = await ledgerLines(ledger);
    await invoke(handler(ledger), '0', all.slice(2, 8));
    await invoke(handler(ledger), '0', all);
    expect(once.length).toBe(6);
    expect(await ledgerLines(ledger)).toEqual(all.map((m) => JSON.stringify(m.body)).sort());
  });

  it('logs counts where read = accepted + rejected + duplicates', async () => {
    const ledger = new MemoryLedger();
    const all = messages([usage(), usage(), 'not json', usage()]);
    await invoke(handler(ledger), '0', all.slice(0, 2));
    const logged: string[] = [];
    const context = new InvocationContext({
      logHandler: (_level, ...args) => logged.push(args.map(String).join(' ')),
      triggerMetadata: {
        partitionContext: { partitionId: '0' },
        sequenceNumberArray: all.map((m) => m.sequenceNumber),
        enqueuedTimeUtcArray: all.map((m) => m.enqueuedTime),
      },
    });
    await handler(ledger)(
      all.map((m) => m.body),
      context,
    );
    const counts = JSON.parse(logged.find((l) => l.includes('"function":"ingestUsage"')) ?? '{}') as Record<
      string,
      number
    >;
    expect(counts).toMatchObject({ read: 4, accepted: 1, rejected: 1, duplicates: 2 });
  });

  it('splits a batch that spans midnight by event day and marks the day before dirty for requests that crossed it', async () => {
    const ledger = new MemoryLedger();
    const late = usage({ startedAt: at(86_390), finishedAt: at(86_410) });
    await invoke(handler(ledger), '0', messages([usage(), late]));
    expect((await ledger.segmentsFor('2026-11-23')).map((s) => s.day)).toEqual(['2026-11-23']);
    expect((await ledger.dirtyDays('2026-11-01')).map((d) => d.day)).toEqual(['2026-11-22', '2026-11-23']);
  });

  it('refuses to run without the trigger metadata exactly-once depends on', async () => {
    const context = new InvocationContext({ logHandler: () => undefined, triggerMetadata: {} });
    await expect(handler(new MemoryLedger())([usage()], context)).rejects.toThrow(/partitionContext/);
  });

  it('retries transient storage failures within its deadline, then succeeds', async () => {
    const ledger = new MemoryLedger();
    let failures = 2;
    const flaky: Ledger = Object.assign(Object.create(ledger) as Ledger, {
      commit: (...args: Parameters<Ledger['commit']>) => {
        if (failures-- > 0) return Promise.reject(new TransientError('storage unavailable'));
        return ledger.commit(...args);
      },
    });
    const body = usage();
    await invoke(handler(flaky, 30_000), '0', messages([body]));
    expect(await ledgerLines(ledger)).toEqual([JSON.stringify(body)]);
  });

  it('fails the invocation, for the host to retry, when storage stays down past the deadline', async () => {
    const down: Ledger = Object.assign(Object.create(new MemoryLedger()) as Ledger, {
      commit: () => Promise.reject(new TransientError('storage unavailable')),
    });
    await expect(invoke(handler(down, 0), '0', messages([usage()]))).rejects.toThrow(TransientError);
  });
});
