import { describe, expect, it } from 'vitest';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { storageClients } from '../../src/composition/composition.js';
import { TransientError } from '../../src/domain/errors.js';
import type { Ledger } from '../../src/ports/ledger.js';
import { ingestLagSeconds } from '../../src/usecases/ingest/trigger-metadata.js';
import { DEAD_LETTER_BODY_BYTES } from '../../src/usecases/ingest/message-body.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { invoke, type HubMessage } from '../../dev/event-hub-delivery.js';
import { InvocationContext } from '../../dev/functions-runtime.js';
import { at, capacity, DAY, DAY_AFTER, evaluation, TEST_PRICES, usage } from '../helpers/events.js';
import { isolatedServices } from '../helpers/storage.js';

const NOW = () => new Date(`${DAY_AFTER}T00:10:00Z`);

function handler(ledger: Ledger, retryDeadlineMs = 0) {
  return makeIngestUsage(() => Promise.resolve({ ledger, prices: TEST_PRICES, now: NOW, retryDeadlineMs }));
}

function messages(bodies: unknown[], firstSequence = 0): HubMessage[] {
  return bodies.map((body, i) => ({ body, sequenceNumber: firstSequence + i, enqueuedTime: at(100 + i) }));
}

async function ledgerLines(ledger: Ledger, day = DAY): Promise<string[]> {
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
    await invoke(handler(ledger), '0', messages([usage({ gpuSku: 'Standard_NV6' }), evaluation()]));
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
    // The oldest message entered the hub at DAY 00:01:40; the handler ran at DAY_AFTER 00:10:00.
    expect(counts.lagSeconds).toBe(86_400 + 600 - 100);
  });

  it('warns, and counts in its log line, events kept below the mark when the numbering went back', async () => {
    const ledger = new MemoryLedger();
    const redone = messages([usage(), usage(), usage()]);
    await invoke(handler(ledger), '0', messages([usage(), usage(), usage()]));
    const logged: { level: string; text: string }[] = [];
    const context = new InvocationContext({
      logHandler: (level, ...args) => logged.push({ level, text: args.map(String).join(' ') }),
      triggerMetadata: {
        partitionContext: { partitionId: '0' },
        sequenceNumberArray: redone.map((m) => m.sequenceNumber),
        enqueuedTimeUtcArray: redone.map((m) => m.enqueuedTime),
      },
    });
    await handler(ledger)(
      redone.map((m) => m.body),
      context,
    );
    const warnings = logged.filter((l) => l.level === 'warning').map((l) => l.text);
    expect(warnings).toEqual([
      expect.stringMatching(/^ingestUsage: partition 0, day .*: sequence numbers went back/),
    ]);
    const line = logged.find((l) => l.text.includes('"function":"ingestUsage"'))?.text ?? '{}';
    expect(JSON.parse(line)).toMatchObject({ accepted: 3, duplicates: 0, keptBelowMark: 3 });
  });

  it('reports no lag for an empty batch rather than a made-up one', () => {
    expect(ingestLagSeconds([], new Date())).toBeUndefined();
    const one = [{ body: {}, partition: '0', sequenceNumber: 1, enqueuedTime: '2026-01-01T00:00:10.000Z' }];
    expect(ingestLagSeconds(one, new Date('2026-01-01T00:00:00.000Z'))).toBe(0); // clock skew: never negative
  });

  it('splits a batch that spans midnight by event day and marks the day before dirty for requests that crossed it', async () => {
    const ledger = new MemoryLedger();
    const late = usage({ startedAt: at(86_390), finishedAt: at(86_410) });
    await invoke(handler(ledger), '0', messages([usage(), late]));
    expect((await ledger.segmentsFor(DAY_AFTER)).map((s) => s.day)).toEqual([DAY_AFTER]);
    expect((await ledger.dirtyDays('2026-11-01')).map((d) => d.day)).toEqual([DAY, DAY_AFTER]);
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

  describe('poison messages', () => {
    /** An unknown field nested `depth` deep, as JSON text: legal JSON that JSON.stringify cannot redo. */
    const nested = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const deepText = (): string => {
      const event = JSON.stringify(usage());
      return `${event.slice(0, -1)},"extra":${nested(6000)}}`;
    };
    const cyclic = (): Record<string, unknown> => {
      const event = usage();
      event.self = event;
      return event;
    };
    const throwingGetter = (): Record<string, unknown> =>
      Object.defineProperty(usage(), 'tenant', {
        enumerable: true,
        get: () => {
          throw new Error('getter exploded');
        },
      });
    const hostileProxy = (): unknown =>
      new Proxy(usage(), {
        get: () => {
          throw new Error('trap exploded');
        },
        ownKeys: () => {
          throw new Error('trap exploded');
        },
      });
    const huge = `{"type":"usage","pad":"${'é'.repeat(3 * DEAD_LETTER_BODY_BYTES)}"`;

    /** [what the poison message is, its body, the dead letter's expected body form] */
    const poison = (): [string, unknown, string][] => [
      ['a valid event with an unknown field nested 6,000 deep, as text', deepText(), 'text'],
      ['the same, as a value the host parsed', JSON.parse(deepText()) as unknown, 'description'],
      ['the same, as bytes', Buffer.from(deepText()), 'text'],
      ['bytes that are not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'base64'],
      ['bytes that are not JSON', Buffer.from('{"type":"usage",'), 'text'],
      ['a number the host parsed', 42, 'json'],
      ['null', null, 'json'],
      ['an array of events', [usage(), usage()], 'json'],
      ['a JSON string', '"usage"', 'text'],
      ['no body at all', undefined, 'description'],
      ['a cyclic event', cyclic(), 'description'],
      ['an event with a BigInt', usage({ promptTokens: 10n }), 'description'],
      ['an event whose getter throws', throwingGetter(), 'description'],
      [
        'an event whose toJSON throws',
        {
          ...usage(),
          toJSON: () => {
            throw new Error('toJSON exploded');
          },
        },
        'description',
      ],
      ['a proxy whose every trap throws', hostileProxy(), 'description'],
      ['an object with no prototype', Object.assign(Object.create(null) as object, { x: 1n }), 'description'],
      ['an enormous message', huge, 'text'],
    ];

    it('dead-letters every kind of poison message with its reason and commits the valid ones of the batch once', async () => {
      const ledger = new MemoryLedger();
      const valid = [usage(), capacity(), usage()];
      const kinds = poison();
      // Valid events as text, bytes and a parsed value, the poison ones in between.
      const bodies: unknown[] = [JSON.stringify(valid[0]), Buffer.from(JSON.stringify(valid[1])), valid[2]];
      const batch = messages(
        [
          bodies[0],
          ...kinds.slice(0, 8).map((k) => k[1]),
          bodies[1],
          ...kinds.slice(8).map((k) => k[1]),
          bodies[2],
        ],
        500,
      );
      await invoke(handler(ledger), '0', batch);
      await invoke(handler(ledger), '0', batch); // redelivered: nothing twice
      expect(await ledgerLines(ledger)).toEqual(valid.map((e) => JSON.stringify(e)).sort());
      const letters = new Map(ledger.deadLetters().map((l) => [l.sequenceNumber, l]));
      expect(letters.size).toBe(kinds.length);
      batch.forEach((m, i) => {
        const kind = kinds.find((k) => k[1] === m.body);
        if (kind === undefined) return;
        const letter = letters.get(m.sequenceNumber);
        expect(letter, kind[0]).toBeDefined();
        expect(letter?.reason, kind[0]).toMatch(/\S/);
        expect(letter?.bodyForm, kind[0]).toBe(kind[2]);
        expect(letter?.enqueuedTime, kind[0]).toBe(at(100 + i));
      });
    });

    it('keeps the original text, or a description naming the field, with the reason', async () => {
      const ledger = new MemoryLedger();
      const text = deepText();
      await invoke(handler(ledger), '0', messages([text, cyclic(), throwingGetter(), 42]));
      const [deep, cycle, getter, number] = ledger
        .deadLetters()
        .sort((a, b) => a.sequenceNumber - b.sequenceNumber);
      expect(deep).toMatchObject({ body: text, bodyForm: 'text', truncated: false });
      expect(deep?.reason).toMatch(/Maximum call stack/);
      expect(cycle?.body).toContain('[Circular');
      expect(cycle?.reason).toMatch(/cannot be serialised as JSON/);
      expect(getter?.body).toMatch(/tenant: \[Getter\]/);
      expect(number).toMatchObject({ body: '42', bodyForm: 'json', reason: 'event must be a JSON object' });
    });

    it('bounds the dead letter of an enormous message, saying it was cut', async () => {
      const ledger = new MemoryLedger();
      const hugeAttributes = usage({ attributes: { ['k'.repeat(5_000_000)]: 1 } });
      await invoke(handler(ledger), '0', messages([huge, Buffer.from(huge), hugeAttributes]));
      const letters = ledger.deadLetters();
      expect(letters).toHaveLength(3);
      for (const letter of letters) {
        expect(letter.truncated).toBe(true);
        expect(Buffer.byteLength(letter.body)).toBeLessThanOrEqual(DEAD_LETTER_BODY_BYTES);
        expect(Buffer.byteLength(letter.body)).toBeGreaterThan(DEAD_LETTER_BODY_BYTES - 4);
        expect(letter.reason.length).toBeLessThan(3000);
        expect(letter.body).not.toContain('\ufffd'); // cut between characters, not inside one
      }
      expect(letters[0]?.bodyBytes).toBe(Buffer.byteLength(huge));
      expect(huge.startsWith(letters[0]?.body ?? 'x')).toBe(true);
    });

    it('writes a bounded dead-letter blob for an enormous message to Storage (Azurite)', async () => {
      const s = await isolatedServices();
      const enormous = `${huge}${'x'.repeat(8 * 1024 * 1024)}`;
      await invoke(handler(s.ledger), '0', messages([enormous, usage()]));
      const container = storageClients(s.config).blobs.getContainerClient(s.config.ledgerContainer);
      const blobs: { name: string; size: number }[] = [];
      for await (const blob of container.listBlobsFlat({ prefix: 'deadletter/' }))
        blobs.push({ name: blob.name, size: blob.properties.contentLength ?? Number.NaN });
      expect(blobs).toHaveLength(1);
      expect(blobs[0]?.size).toBeLessThan(DEAD_LETTER_BODY_BYTES + 4096);
      const stored = await container.getBlobClient(blobs[0]?.name ?? '').downloadToBuffer();
      const letter = JSON.parse(stored.toString('utf8')) as Record<string, unknown>;
      expect(letter).toMatchObject({
        truncated: true,
        bodyBytes: Buffer.byteLength(enormous),
        bodyForm: 'text',
      });
      expect((await s.ledger.segmentsFor(DAY)).map((x) => x.events)).toEqual([1]);
    });
  });
});
