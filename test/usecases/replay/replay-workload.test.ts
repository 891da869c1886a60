import { describe, expect, it } from 'vitest';
import type { ReplayRequest } from '../../../src/domain/replay/workload.js';
import type { ReplayAnswer, ReplayEndpoint } from '../../../src/ports/replay-endpoint.js';
import { DEFAULT_REPLAY_LIMITS, replayWorkload } from '../../../src/usecases/replay/replay-workload.js';

function requests(count: number): ReplayRequest[] {
  return Array.from({ length: count }, (_, i) => ({
    eventId: `e-${i}`,
    requestId: `replay-e-${i}`,
    path: '/v1/chat/completions',
    attribution: { tenant: 'acme', feature: 'chat', requestClass: 'interactive' },
    completionTokens: 10,
    body: {},
  }));
}

/** An endpoint that answers each request with what `answer` says, counting tries and requests in flight. */
function endpoint(answer: (request: ReplayRequest, tries: number) => ReplayAnswer | 'hang') {
  const tries = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const fake: ReplayEndpoint = {
    async send(request, signal) {
      const n = (tries.get(request.requestId) ?? 0) + 1;
      tries.set(request.requestId, n);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const result = answer(request, n);
        if (result === 'hang') {
          await new Promise((resolve) => {
            signal.addEventListener('abort', resolve);
          });
          return { ok: false, kind: 'network error', detail: 'aborted', refused: false };
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
        return result;
      } finally {
        inFlight -= 1;
      }
    },
  };
  return { fake, tries, maxInFlight: () => maxInFlight };
}

const sleeps: number[] = [];
const deps = (fake: ReplayEndpoint, clock = { t: 0 }) => ({
  endpoint: fake,
  now: () => clock.t,
  sleep: (ms: number) => {
    sleeps.push(ms);
    clock.t += ms;
    return Promise.resolve();
  },
});

const ok: ReplayAnswer = { ok: true, completionTokens: 10 };

describe('replaying a workload', () => {
  it('sends every request once and keeps at most `concurrency` in flight', async () => {
    const e = endpoint(() => ok);
    const summary = await replayWorkload(
      requests(20),
      { ...DEFAULT_REPLAY_LIMITS, concurrency: 3 },
      deps(e.fake),
    );
    expect(summary).toMatchObject({ sent: 20, answered: 20, failed: 0, failures: [], otherLength: 0 });
    expect([...e.tries.values()].every((n) => n === 1)).toBe(true);
    expect(e.maxInFlight()).toBe(3);
  });

  it('never sends again a request that got an answer, even a 503', async () => {
    const e = endpoint((r) =>
      r.eventId === 'e-1' ? { ok: false, kind: 'HTTP 503', detail: 'busy', refused: false } : ok,
    );
    const summary = await replayWorkload(requests(4), DEFAULT_REPLAY_LIMITS, deps(e.fake));
    expect(e.tries.get('replay-e-1')).toBe(1);
    expect(summary).toMatchObject({ answered: 3, failed: 1 });
    expect(summary.failures).toEqual([{ kind: 'HTTP 503', count: 1, first: 'replay-e-1: busy' }]);
  });

  it('tries a refused connection again with a doubling wait, up to the retries allowed', async () => {
    sleeps.length = 0;
    const refused: ReplayAnswer = { ok: false, kind: 'connection refused', detail: 'refused', refused: true };
    const e = endpoint((r, n) =>
      r.eventId === 'e-0' && n <= 2 ? refused : r.eventId === 'e-1' ? refused : ok,
    );
    const limits = { ...DEFAULT_REPLAY_LIMITS, concurrency: 1 };
    const summary = await replayWorkload(requests(2), limits, deps(e.fake));
    expect(e.tries.get('replay-e-0')).toBe(3);
    expect(e.tries.get('replay-e-1')).toBe(1 + DEFAULT_REPLAY_LIMITS.refusedRetries);
    expect(summary.failures).toEqual([
      { kind: 'connection refused', count: 1, first: 'replay-e-1: refused' },
    ]);
    expect(sleeps).toEqual([500, 1000, 500, 1000, 2000]);
  });

  it('cuts a request off after the timeout and counts it as timed out', async () => {
    const e = endpoint((r) => (r.eventId === 'e-0' ? 'hang' : ok));
    const summary = await replayWorkload(
      requests(2),
      { ...DEFAULT_REPLAY_LIMITS, timeoutMs: 20 },
      deps(e.fake),
    );
    expect(summary.failures).toEqual([
      { kind: 'timed out', count: 1, first: 'replay-e-0: no answer within 20 ms' },
    ]);
    expect(e.tries.get('replay-e-0')).toBe(1);
  });

  it('groups failures by kind, the most frequent first', async () => {
    const e = endpoint((r) =>
      r.eventId === 'e-0'
        ? { ok: false, kind: 'HTTP 400', detail: 'bad', refused: false }
        : { ok: false, kind: 'HTTP 502', detail: `down ${r.eventId}`, refused: false },
    );
    const summary = await replayWorkload(
      requests(3),
      { ...DEFAULT_REPLAY_LIMITS, concurrency: 1 },
      deps(e.fake),
    );
    expect(summary.failures.map((f) => [f.kind, f.count])).toEqual([
      ['HTTP 502', 2],
      ['HTTP 400', 1],
    ]);
    expect(summary.failures[0]?.first).toBe('replay-e-1: down e-1');
  });

  it('starts at most `requestsPerSecond` requests a second', async () => {
    const clock = { t: 0 };
    const starts: number[] = [];
    const fake: ReplayEndpoint = {
      send() {
        starts.push(clock.t);
        return Promise.resolve(ok);
      },
    };
    await replayWorkload(
      requests(5),
      { ...DEFAULT_REPLAY_LIMITS, concurrency: 1, requestsPerSecond: 4 },
      deps(fake, clock),
    );
    expect(starts).toEqual([0, 250, 500, 750, 1000]);
  });

  it('counts answers whose usage reports another length than asked', async () => {
    const e = endpoint((r) => (r.eventId === 'e-0' ? { ok: true, completionTokens: 3 } : { ok: true }));
    const summary = await replayWorkload(requests(3), DEFAULT_REPLAY_LIMITS, deps(e.fake));
    expect(summary).toMatchObject({ answered: 3, otherLength: 1 });
  });
});
