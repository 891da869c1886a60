import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, PermanentError, TransientError } from '../../../src/domain/errors.js';
import { driftMessages, type TeamsMessage } from '../../../src/domain/drift/card.js';
import {
  TeamsNotifier,
  parseRetryAfter,
  type TeamsNotifierOptions,
} from '../../../src/adapters/teams/teams-notifier.js';
import { schemaErrors } from '../../domain/drift/adaptive-card-validators.js';
import { startReceiver, type Answer } from './teams-receiver.js';

// The path and signature of a real Workflows URL are the secret; both must stay out of errors.
const PATH = '/workflows/4f1c2b9e8d7a/triggers/manual/paths/invoke';
const SIG = 'Zx9SeCrEtSiGnAtUrE0123456789abcdef';
const SECRET_PATH = `${PATH}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SIG}`;

const MESSAGE: TeamsMessage = (() => {
  const [first] = driftMessages({
    date: '2026-11-22',
    baselineDays: 28,
    alerts: [],
    resolved: ['error-rate:acme'],
  });
  if (first === undefined) throw new Error('no message');
  return first.message;
})();

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.map((stop) => stop()));
  stops = [];
});

/** A receiver with scripted answers, and a client on virtual time that records its waits. */
async function setup(answers: Answer[], options: Partial<TeamsNotifierOptions> = {}) {
  const receiver = await startReceiver(answers);
  stops.push(receiver.stop);
  const clock = { t: Date.UTC(2026, 10, 23, 3, 0, 0) };
  const sleeps: number[] = [];
  const notifier = new TeamsNotifier({
    url: receiver.url(SECRET_PATH),
    now: () => clock.t,
    sleep: (ms) => {
      sleeps.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
    random: () => 1,
    maxAttempts: 3,
    ...options,
  });
  return { receiver, notifier, sleeps, clock };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected a rejection');
}

function expectNoSecret(error: Error): void {
  const everything = `${error.message} ${String(error.stack)} ${JSON.stringify(error)}`;
  expect(everything).not.toContain(SIG);
  expect(everything).not.toContain(PATH);
  expect(everything).not.toContain('4f1c2b9e8d7a');
}

describe('Teams Workflows client against a loopback receiver', () => {
  it('posts the contracts.md §7 envelope as JSON and takes 202 with an empty body as success', async () => {
    const { receiver, notifier } = await setup([{ status: 202 }]);
    await notifier.post(MESSAGE);
    expect(receiver.received).toHaveLength(1);
    const [post] = receiver.received;
    expect(post?.method).toBe('POST');
    expect(post?.contentType).toBe('application/json');
    expect(post?.path).toBe(SECRET_PATH);
    expect(post?.body).toEqual(MESSAGE);
    expect(schemaErrors(post?.body)).toEqual([]);
  });

  it('takes any 2xx as success', async () => {
    const { receiver, notifier } = await setup([{ status: 200, body: '1' }]);
    await notifier.post(MESSAGE);
    expect(receiver.received).toHaveLength(1);
  });

  it('waits as long as Retry-After says in seconds after a 429, then sends again', async () => {
    const { receiver, notifier, sleeps } = await setup([
      { status: 429, headers: { 'retry-after': '7' } },
      { status: 202 },
    ]);
    await notifier.post(MESSAGE);
    expect(receiver.received).toHaveLength(2);
    expect(sleeps).toEqual([7000]);
  });

  it('honours Retry-After given as an HTTP date', async () => {
    const { notifier, sleeps, clock } = await setup([
      { status: 429, headers: { 'retry-after': new Date(Date.UTC(2026, 10, 23, 3, 0, 12)).toUTCString() } },
      { status: 202 },
    ]);
    clock.t = Date.UTC(2026, 10, 23, 3, 0, 0);
    await notifier.post(MESSAGE);
    expect(sleeps).toEqual([12_000]);
  });

  it('does not wait for a Retry-After longer than its limit: the message fails now', async () => {
    const { receiver, notifier } = await setup([{ status: 429, headers: { 'retry-after': '3600' } }]);
    const error = await failure(notifier.post(MESSAGE));
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toContain('asked to wait 3600 s');
    expect(receiver.received).toHaveLength(1);
  });

  it('retries a 500 with exponential backoff and gives up after the last try', async () => {
    const { receiver, notifier, sleeps } = await setup([{ status: 500, body: 'boom' }]);
    const error = await failure(notifier.post(MESSAGE));
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toContain('answered 500: boom (gave up after 3 tries)');
    expect(receiver.received).toHaveLength(3);
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('recovers when a 503 is followed by a 202', async () => {
    const { receiver, notifier } = await setup([{ status: 503 }, { status: 202 }]);
    await notifier.post(MESSAGE);
    expect(receiver.received).toHaveLength(2);
  });

  it('does not retry a 400: the receiver refused this message', async () => {
    const { receiver, notifier } = await setup([{ status: 400, body: 'bad card' }]);
    const error = await failure(notifier.post(MESSAGE));
    expect(error).toBeInstanceOf(PermanentError);
    expect(receiver.received).toHaveLength(1);
  });

  it('takes a hang as a failed try after the per-attempt timeout', async () => {
    const { receiver, notifier } = await setup(['hang'], { attemptTimeoutMs: 100, maxAttempts: 2 });
    const error = await failure(notifier.post(MESSAGE));
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toContain('did not answer within 100 ms (gave up after 2 tries)');
    expect(receiver.received).toHaveLength(2);
    expectNoSecret(error);
  });

  it('keeps the URL out of an error that echoes it', async () => {
    const echo = `invalid trigger ${SECRET_PATH} sig=${SIG} ${encodeURIComponent(SECRET_PATH)}`;
    const { notifier } = await setup([{ status: 404, body: echo }]);
    const error = await failure(notifier.post(MESSAGE));
    expect(error.message).toContain('[redacted]');
    expectNoSecret(error);
  });

  it('keeps the URL out of an error when nothing listens', async () => {
    const { receiver } = await setup([]);
    await receiver.stop();
    stops = [];
    const notifier = new TeamsNotifier({ url: receiver.url(SECRET_PATH), maxAttempts: 1 });
    const error = await failure(notifier.post(MESSAGE));
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toContain('could not be reached (ECONNREFUSED)');
    expectNoSecret(error);
  });

  it('starts at most 4 posts in any second of its clock', async () => {
    const { receiver, clock } = await setup([{ status: 202 }]);
    const starts: number[] = [];
    const counting = new TeamsNotifier({
      url: receiver.url(SECRET_PATH),
      now: () => clock.t,
      sleep: (ms) => {
        clock.t += ms;
        return Promise.resolve();
      },
      fetch: (input, init) => {
        starts.push(clock.t);
        return fetch(input, init);
      },
    });
    await Promise.all(Array.from({ length: 10 }, () => counting.post(MESSAGE)));
    expect(receiver.received).toHaveLength(10);
    const gaps = starts.slice(4).map((t, i) => t - (starts[i] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
    // Never slower than needed: the fifth post starts exactly when the first leaves the window.
    expect(gaps[0]).toBe(1000);
  });
});

describe('Teams webhook URL', () => {
  it.each([
    'https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456',
    'https://webhook.office.com/webhookb2/abc',
    'https://outlook.office.com/webhook/abc@def/IncomingWebhook/123/456',
    'https://outlook.office365.com/webhook/abc',
  ])('refuses the Office 365 connector URL %s with a clear error', (url) => {
    const make = () => new TeamsNotifier({ url });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(/Office 365 connector URL.*create a Workflows webhook/);
    expect(make).not.toThrow(/abc/);
  });

  it('accepts a Workflows URL', () => {
    const url = `https://prod-12.westeurope.logic.azure.com:443${SECRET_PATH}`;
    expect(new TeamsNotifier({ url }).host).toBe('prod-12.westeurope.logic.azure.com');
  });

  it('refuses plain http away from loopback, without quoting the URL', () => {
    const make = () => new TeamsNotifier({ url: `http://prod-12.westeurope.logic.azure.com${SECRET_PATH}` });
    expect(make).toThrow(/must use https/);
    expect(make).not.toThrow(new RegExp(SIG));
  });

  it('refuses what is not a URL without quoting it', () => {
    expect(() => new TeamsNotifier({ url: `not a url ${SIG}` })).toThrow(
      /^the Teams webhook URL is not a URL$/,
    );
  });
});

describe('Retry-After', () => {
  const now = Date.UTC(2026, 10, 23, 3, 0, 0);
  it.each([
    [null, undefined],
    ['0', 0],
    ['120', 120_000],
    ['Mon, 23 Nov 2026 03:00:05 GMT', 5000],
    ['Mon, 23 Nov 2026 02:59:00 GMT', 0],
    ['soon', undefined],
  ])('reads %s as %s ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});
