import { afterEach, describe, expect, it } from 'vitest';
import type { KeyedMessage, TeamsMessage } from '../../../src/domain/drift/card.js';
import { driftMessages } from '../../../src/domain/drift/card.js';
import { TransientError } from '../../../src/domain/errors.js';
import type { Notifier } from '../../../src/ports/notifier.js';
import { MemoryOutbox } from '../../../src/adapters/memory/memory-outbox.js';
import { TeamsNotifier } from '../../../src/adapters/teams/teams-notifier.js';
import { deliver } from '../../../src/usecases/notify/deliver.js';
import { startReceiver } from '../../adapters/teams/teams-receiver.js';

function keyed(key: string): KeyedMessage {
  const [first] = driftMessages({ date: '2026-11-22', baselineDays: 28, alerts: [], resolved: [key] });
  if (first === undefined) throw new Error('no message');
  return { key, message: first.message };
}

/** Records what it is given; fails while `down` is true. */
class RecordingNotifier implements Notifier {
  readonly posted: string[] = [];
  down = false;
  post(message: TeamsMessage): Promise<void> {
    if (this.down) return Promise.reject(new TransientError('Teams webhook at example answered 503'));
    this.posted.push(JSON.stringify(message.attachments[0].content.body[1]));
    return Promise.resolve();
  }
}

const resolvedId = (posted: string): string => /✓ ([^"]+)/.exec(posted)?.[1] ?? posted;

function clock(start = '2026-11-23T03:00:00.000Z') {
  let t = Date.parse(start);
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.map((stop) => stop()));
  stops = [];
});

describe('delivery through the outbox', () => {
  it('sends everything when the receiver answers', async () => {
    const notifier = new RecordingNotifier();
    const outbox = new MemoryOutbox();
    const result = await deliver([keyed('a'), keyed('b')], { notifier, outbox, now: clock().now });
    expect(result).toEqual({ sent: ['a', 'b'], queued: [], dropped: [] });
    expect(notifier.posted.map(resolvedId)).toEqual(['a', 'b']);
  });

  it('keeps what failed, and everything after it, for the next run', async () => {
    const notifier = new RecordingNotifier();
    notifier.down = true;
    const outbox = new MemoryOutbox();
    const result = await deliver([keyed('a'), keyed('b')], { notifier, outbox, now: clock().now });
    expect(result.queued).toEqual(['a', 'b']);
    expect(result.error).toContain('answered 503');
    const waiting = await outbox.list();
    expect(waiting.map((e) => [e.key, e.lastError])).toEqual([
      ['a', 'TransientError: Teams webhook at example answered 503'],
      ['b', 'not tried: an earlier post of the same run failed'],
    ]);
  });

  it('sends the outbox first, oldest first, then the new messages, each exactly once', async () => {
    const notifier = new RecordingNotifier();
    const outbox = new MemoryOutbox();
    const time = clock();
    notifier.down = true;
    await deliver([keyed('old-1'), keyed('old-2')], { notifier, outbox, now: time.now });
    time.advance(60_000);
    await deliver([keyed('older-run-3')], { notifier, outbox, now: time.now });
    notifier.down = false;
    time.advance(86_400_000);
    const result = await deliver([keyed('new')], { notifier, outbox, now: time.now });
    expect(result.sent).toEqual(['old-1', 'old-2', 'older-run-3', 'new']);
    expect(notifier.posted.map(resolvedId)).toEqual(['old-1', 'old-2', 'older-run-3', 'new']);
    expect(await outbox.list()).toEqual([]);
    await deliver([], { notifier, outbox, now: time.now });
    expect(notifier.posted).toHaveLength(4);
  });

  it('does not send a message again that the outbox has just delivered', async () => {
    const notifier = new RecordingNotifier();
    const outbox = new MemoryOutbox();
    notifier.down = true;
    await deliver([keyed('a')], { notifier, outbox, now: clock().now });
    notifier.down = false;
    const result = await deliver([keyed('a'), keyed('b')], { notifier, outbox, now: clock().now });
    expect(result.sent).toEqual(['a', 'b']);
    expect(notifier.posted.map(resolvedId)).toEqual(['a', 'b']);
  });

  it('two runs at once send each waiting message once', async () => {
    const notifier = new RecordingNotifier();
    const outbox = new MemoryOutbox();
    const time = clock();
    notifier.down = true;
    await deliver(['a', 'b', 'c', 'd', 'e'].map(keyed), { notifier, outbox, now: time.now });
    notifier.down = false;
    await Promise.all([
      deliver([], { notifier, outbox, now: time.now }),
      deliver([], { notifier, outbox, now: time.now }),
    ]);
    expect(notifier.posted.map(resolvedId).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('drops an entry after its last allowed run, and says so', async () => {
    const notifier = new RecordingNotifier();
    notifier.down = true;
    const outbox = new MemoryOutbox();
    const options = { notifier, outbox, now: clock().now, maxAttempts: 3 };
    await deliver([keyed('poison')], options);
    expect((await deliver([], options)).dropped).toEqual([]);
    expect((await deliver([], options)).dropped).toEqual(['poison']);
    expect(await outbox.list()).toEqual([]);
  });

  it('with the Teams client: a card that failed after its retries goes out first on the next run', async () => {
    const receiver = await startReceiver([{ status: 500 }, { status: 500 }, { status: 202 }]);
    stops.push(receiver.stop);
    const notifier = new TeamsNotifier({
      url: receiver.url('/invoke?sig=s3cr3t-signature'),
      maxAttempts: 2,
      sleep: () => Promise.resolve(),
    });
    const outbox = new MemoryOutbox();
    const time = clock();
    const first = await deliver([keyed('yesterday')], { notifier, outbox, now: time.now });
    expect(first.queued).toEqual(['yesterday']);
    expect(first.error).not.toContain('s3cr3t');
    time.advance(86_400_000);
    const second = await deliver([keyed('today')], { notifier, outbox, now: time.now });
    expect(second.sent).toEqual(['yesterday', 'today']);
    const bodies = receiver.received.map((r) => JSON.stringify(r.body));
    expect(bodies.slice(2).map(resolvedId)).toEqual(['yesterday', 'today']);
  });
});
