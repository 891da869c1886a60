import { describe, expect, it, vi } from 'vitest';
import { InvocationContext } from '../../dev/functions-runtime.js';
import { MemoryFanOutStore, MemoryWorkQueue } from '../../src/adapters/memory/memory-fan-out.js';
import { PermanentError, TransientError } from '../../src/domain/errors.js';
import type { FanInResult, FanOutMessage, FanOutStore, Json, Round, Work } from '../../src/ports/fan-out.js';
import {
  handleFanOutMessage,
  makeFanOutHandler,
  parseFanOutMessage,
  startJob,
  type FanOutDeps,
  type FanOutLog,
  type Handled,
} from '../../src/usecases/fan-out/fan-out.js';

const LEASE = 60_000;
const JOB = 'day-2026-12-06';
const NUMBERS: Record<string, number[]> = { a: [1, 2], b: [3], c: [4, 5, 6], d: [7], e: [8, 9], f: [10] };
const PLAN = { numbers: NUMBERS };
const UNITS = Object.keys(NUMBERS);
const TOTAL = 55;

/**
 * Two rounds: each unit of round 0 sums its numbers; the first fan-in regroups the sums into two
 * units (even and odd position) passed on as context; each of those adds its group; the last fan-in
 * adds the two. Every call is counted by (round, unit).
 */
function sumWork(overrides: Partial<Work> = {}) {
  const unitRuns = new Map<string, number>();
  const fanIns: number[] = [];
  const work: Work = {
    runUnit(plan, round, unit) {
      const key = `${round.index}/${unit}`;
      unitRuns.set(key, (unitRuns.get(key) ?? 0) + 1);
      if (round.index === 0) {
        const numbers = (plan as { numbers: Record<string, number[]> }).numbers[unit] ?? [];
        return Promise.resolve(numbers.reduce((a, b) => a + b, 0));
      }
      const groups = round.context as Record<string, number[]>;
      return Promise.resolve((groups[unit] ?? []).reduce((a, b) => a + b, 0));
    },
    fanIn(_plan, round, results): Promise<FanInResult> {
      fanIns.push(round.index);
      if (round.index === 0) {
        const sums = round.units.map((u) => results.get(u) as number);
        const context = { even: sums.filter((_, i) => i % 2 === 0), odd: sums.filter((_, i) => i % 2 === 1) };
        return Promise.resolve({ next: { units: ['even', 'odd'], context } });
      }
      const total = [...results.values()].reduce<number>((a, b) => a + (b as number), 0);
      return Promise.resolve({ done: { total, rounds: round.index + 1 } });
    },
    ...overrides,
  };
  return { work, unitRuns, fanIns };
}

function setup(store: FanOutStore = new MemoryFanOutStore(), overrides: Partial<FanOutDeps> = {}) {
  let t = Date.parse('2026-12-07T03:00:00.000Z');
  const clock = (): Date => new Date(t);
  const queue = new MemoryWorkQueue(clock);
  const deps: FanOutDeps = { store, queue, clock, leaseMs: LEASE, renewEveryMs: 3_600_000, ...overrides };
  const lines: string[] = [];
  const log: FanOutLog = {
    log: (m) => lines.push(`log ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
  return {
    deps,
    queue,
    store,
    log,
    lines,
    advance(ms: number) {
      t += ms;
    },
    /**
     * Delivers messages as the host would until none is left, waiting (on the clock) for delayed
     * ones: a handler that throws has its message back at once. `order` reshapes each batch.
     */
    async drain(
      work: Work,
      options: { order?: (batch: FanOutMessage[]) => FanOutMessage[]; together?: boolean } = {},
    ): Promise<Handled[]> {
      const handled: Handled[] = [];
      const handle = async (m: FanOutMessage): Promise<void> => {
        try {
          handled.push(await handleFanOutMessage(deps, work, m, log));
        } catch {
          queue.putBack(m);
        }
      };
      for (let i = 0; i < 200; i += 1) {
        const batch = (options.order ?? ((b) => b))(queue.take());
        if (batch.length === 0) {
          const next = Math.min(...queue.pending.map((p) => p.visibleAt));
          if (!Number.isFinite(next)) return handled;
          t = Math.max(t, next);
          continue;
        }
        if (options.together === true) await Promise.all(batch.map(handle));
        else for (const m of batch) await handle(m);
      }
      throw new Error('the queue never drained');
    },
  };
}

/** A store whose every call, once the worker holding it is killed, never answers: a dead process. */
function mortal(store: FanOutStore): { store: FanOutStore; kill(): void } {
  let dead = false;
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        dead ? new Promise(() => undefined) : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return {
    store: proxy,
    kill: () => {
      dead = true;
    },
  };
}

const kinds = (handled: readonly Handled[]): string[] => handled.map((h) => h.kind);
const count = (handled: readonly Handled[], kind: string): number =>
  handled.filter((h) => h.kind === kind).length;

describe('fan-out: a whole job', () => {
  it('runs every unit of both rounds once, fans in once per round and commits the outcome once', async () => {
    const h = setup();
    const { work, unitRuns, fanIns } = sumWork();
    expect(await startJob(h.deps, JOB, PLAN, UNITS)).toBe('started');
    const handled = await h.drain(work);
    expect([...unitRuns.values()].every((n) => n === 1)).toBe(true);
    expect(unitRuns.size).toBe(UNITS.length + 2);
    expect(fanIns).toEqual([0, 1]);
    expect(count(handled, 'completed')).toBe(1);
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
    expect((await h.store.job(JOB))?.record).toMatchObject({ phase: 'done', round: 1 });
  });

  it('stores every unit result under its round', async () => {
    const h = setup();
    await startJob(h.deps, JOB, PLAN, UNITS);
    await h.drain(sumWork().work);
    expect(Object.fromEntries(await h.store.results(JOB, 0))).toEqual({
      a: 3,
      b: 3,
      c: 15,
      d: 7,
      e: 17,
      f: 10,
    });
    expect(Object.fromEntries(await h.store.results(JOB, 1))).toEqual({ even: 35, odd: 20 });
  });

  it('answers every message after the outcome with a no-op that says so', async () => {
    const h = setup();
    const { work, unitRuns } = sumWork();
    await startJob(h.deps, JOB, PLAN, UNITS);
    await h.drain(work);
    const before = new Map(unitRuns);
    for (const m of h.queue.sent) h.queue.putBack(m);
    const again = await h.drain(work);
    expect(new Set(kinds(again))).toEqual(new Set(['job-done']));
    expect(again[0]?.detail).toMatch(/the job is done \(outcome committed\): nothing to do/);
    expect(unitRuns).toEqual(before);
  });

  it('runs a unit once when its message is delivered twice, one after the other', async () => {
    const h = setup();
    const { work, unitRuns, fanIns } = sumWork();
    await startJob(h.deps, JOB, PLAN, UNITS);
    await h.drain(work, { order: (batch) => batch.flatMap((m) => [m, m]) });
    expect([...unitRuns.values()].every((n) => n === 1)).toBe(true);
    expect(fanIns).toEqual([0, 1]);
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('commits one outcome when every message is delivered twice at once', async () => {
    const h = setup();
    const { work, fanIns } = sumWork();
    await startJob(h.deps, JOB, PLAN, UNITS);
    const handled = await h.drain(work, { order: (batch) => batch.flatMap((m) => [m, m]), together: true });
    expect(fanIns).toEqual([0, 1]);
    expect(count(handled, 'completed')).toBe(1);
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('gives the same outcome with messages delivered in reverse order', async () => {
    const h = setup();
    await startJob(h.deps, JOB, PLAN, UNITS);
    await h.drain(sumWork().work, { order: (batch) => [...batch].reverse() });
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('starts a job once when started twice', async () => {
    const h = setup();
    const { work, unitRuns } = sumWork();
    expect(await startJob(h.deps, JOB, PLAN, UNITS)).toBe('started');
    expect(await startJob(h.deps, JOB, { numbers: {} }, ['x'])).toBe('exists');
    expect(h.queue.sent.filter((m) => 'unit' in m)).toHaveLength(UNITS.length);
    await h.drain(work);
    expect(unitRuns.has('0/x')).toBe(false);
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('refuses a round without units, with a unit twice or a job id that cannot name a blob', async () => {
    const h = setup();
    await expect(startJob(h.deps, JOB, PLAN, [])).rejects.toThrow(PermanentError);
    await expect(startJob(h.deps, JOB, PLAN, ['a', 'a'])).rejects.toThrow(/twice/);
    await expect(startJob(h.deps, 'day/2026', PLAN, ['a'])).rejects.toThrow(PermanentError);
  });
});

describe('fan-out: workers that die', () => {
  it('fans in on the redelivery of a unit whose worker died after storing its result', async () => {
    const memory = new MemoryFanOutStore();
    let dying = true;
    // The worker of the last unit dies between storing its result and looking at the round.
    const store = new Proxy(memory, {
      get(target, name, receiver) {
        if (name === 'resultUnits')
          return async (job: string, round: number) => {
            const units = await target.resultUnits(job, round);
            if (dying && round === 0 && units.length === UNITS.length) {
              dying = false;
              throw new Error('killed');
            }
            return units;
          };
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
    const h = setup(store);
    const { work, unitRuns, fanIns } = sumWork();
    await startJob(h.deps, JOB, PLAN, UNITS);
    const handled = await h.drain(work);
    expect(dying).toBe(false);
    expect([...unitRuns.values()].every((n) => n === 1)).toBe(true);
    expect(handled.find((x) => x.kind === 'next-round')?.unit).toBe('had-result');
    expect(fanIns).toEqual([0, 1]);
    expect(await memory.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('takes a fan-in over after the lease of a worker that died running it', async () => {
    const memory = new MemoryFanOutStore();
    const doomed = mortal(memory);
    const h = setup(memory, { renewEveryMs: 5 });
    let first = true;
    const { work, fanIns } = sumWork();
    const dyingWork: Work = {
      ...work,
      async fanIn(plan, round, results, signal) {
        if (round.index === 1 && first) {
          first = false;
          fanIns.push(round.index);
          doomed.kill();
          return new Promise<FanInResult>(() => undefined);
        }
        return work.fanIn(plan, round, results, signal);
      },
    };
    await startJob(h.deps, JOB, PLAN, UNITS);
    // Every message goes through the doomed worker until it dies; the rest goes to a live one.
    const doomedDeps = { ...h.deps, store: doomed.store };
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
    while (fanIns.length < 2) {
      const batch = h.queue.take();
      if (batch.length === 0) throw new Error('the doomed worker ran out of messages');
      for (const m of batch)
        await Promise.race([handleFanOutMessage(doomedDeps, dyingWork, m, h.log), pause()]);
    }
    expect(fanIns).toEqual([0, 1]);
    const after = await h.drain(dyingWork);
    expect(fanIns).toEqual([0, 1, 1]);
    expect(kinds(after)).toContain('completed');
    expect(h.lines).toContain(`warn fan-out ${JOB}: took over the lapsed fan-in of round 1`);
    expect(await memory.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
    expect((await memory.job(JOB))?.record).toMatchObject({ phase: 'done', fanIns: 2 });
  });

  it('discards the result of a lapsed holder that finishes after the takeover: one commit', async () => {
    const h = setup();
    let release: (() => void) | undefined;
    let first = true;
    const { work, fanIns } = sumWork();
    const slowWork: Work = {
      ...work,
      async fanIn(plan, round, results, signal) {
        if (round.index === 0 && first) {
          first = false;
          await new Promise<void>((r) => (release = r));
          return { next: { units: ['lapsed'], context: { lapsed: [] } } };
        }
        return work.fanIn(plan, round, results, signal);
      },
    };
    await startJob(h.deps, JOB, PLAN, UNITS);
    const units = h.queue.take().filter((m) => 'unit' in m);
    const holder = Promise.all(units.map((m) => handleFanOutMessage(h.deps, slowWork, m, h.log)));
    await vi.waitFor(() => {
      expect(release).toBeDefined();
    });
    h.advance(LEASE + 1); // its lease lapses: it stopped renewing (a paused process)
    const after = await h.drain(slowWork);
    release?.();
    expect(kinds(await holder)).toContain('lease-lost');
    expect(kinds(after)).toContain('completed');
    expect(fanIns).toEqual([0, 1]);
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('waits again, without taking over, for a fan-in whose holder renews its lease', async () => {
    const h = setup(new MemoryFanOutStore(), { renewEveryMs: 5 });
    let release: (() => void) | undefined;
    const { work, fanIns } = sumWork();
    const slowWork: Work = {
      ...work,
      async fanIn(plan, round, results, signal) {
        if (round.index === 0) await new Promise<void>((r) => (release = r));
        return work.fanIn(plan, round, results, signal);
      },
    };
    await startJob(h.deps, JOB, PLAN, UNITS);
    const units = h.queue.take().filter((m) => 'unit' in m);
    const holder = Promise.all(units.map((m) => handleFanOutMessage(h.deps, slowWork, m, h.log)));
    await vi.waitFor(() => {
      expect(release).toBeDefined();
    });
    const claimed = (await h.store.job(JOB))?.record.claim?.until;
    h.advance(LEASE / 2);
    await vi.waitFor(async () => {
      expect((await h.store.job(JOB))?.record.claim?.until).not.toBe(claimed);
    });
    h.advance(LEASE / 2);
    const watch = h.queue.take().filter((m) => 'fanIn' in m && m.round === 0);
    expect(watch.length).toBeGreaterThan(0);
    const looks = await Promise.all(watch.map((m) => handleFanOutMessage(h.deps, slowWork, m, h.log)));
    expect(new Set(kinds(looks))).toEqual(new Set(['fan-in-held']));
    release?.();
    expect(kinds(await holder)).toContain('next-round');
    await h.drain(slowWork);
    expect(fanIns).toEqual([0, 1]);
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('aborts the signal of a holder whose renewal finds its claim taken', async () => {
    const h = setup(new MemoryFanOutStore(), { renewEveryMs: 5 });
    let seen: AbortSignal | undefined;
    const { work } = sumWork();
    const slowWork: Work = {
      ...work,
      fanIn(_plan, _round, _results, signal) {
        seen = signal;
        return new Promise<FanInResult>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            reject(signal.reason as Error);
          });
        });
      },
    };
    await startJob(h.deps, JOB, PLAN, UNITS);
    const units = h.queue.take().filter((m) => 'unit' in m);
    const holder = Promise.all(units.map((m) => handleFanOutMessage(h.deps, slowWork, m, h.log)));
    await vi.waitFor(() => {
      expect(seen).toBeDefined();
    });
    const stored = await h.store.job(JOB);
    if (stored === undefined) throw new Error('no job');
    await h.store.update(JOB, stored.version, {
      ...stored.record,
      claim: { token: 'other', until: '2026-12-07T04:00:00.000Z' },
    });
    await vi.waitFor(() => {
      expect(seen?.aborted).toBe(true);
    });
    expect(kinds(await holder)).toContain('lease-lost');
    expect(await h.store.outcome(JOB)).toBeUndefined();
  });

  it('lets two workers finishing the last two units at once run the fan-in once', async () => {
    const h = setup();
    const { work, fanIns } = sumWork();
    await startJob(h.deps, JOB, PLAN, UNITS);
    const units = h.queue.take().filter((m) => 'unit' in m);
    for (const m of units.slice(0, -2)) await handleFanOutMessage(h.deps, work, m, h.log);
    const last = await Promise.all(units.slice(-2).map((m) => handleFanOutMessage(h.deps, work, m, h.log)));
    expect(fanIns).toEqual([0]);
    expect(count(last, 'next-round')).toBe(1);
    expect(kinds(last).some((k) => k === 'claim-lost' || k === 'fan-in-held')).toBe(true);
  });

  it('finishes a start that died before its messages were sent, by its fan-in message', async () => {
    const h = setup();
    const send = h.queue.send.bind(h.queue);
    let calls = 0;
    h.queue.send = (messages, delayMs) => {
      calls += 1;
      return calls === 2 ? Promise.reject(new Error('killed')) : send(messages, delayMs);
    };
    await expect(startJob(h.deps, JOB, PLAN, UNITS)).rejects.toThrow('killed');
    const handled = await h.drain(sumWork().work);
    expect(kinds(handled)[0]).toBe('resent');
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('sends the first round again when a job whose start died is started again', async () => {
    const h = setup();
    const send = h.queue.send.bind(h.queue);
    h.queue.send = (messages, delayMs) =>
      messages.some((m) => 'unit' in m) ? Promise.reject(new Error('killed')) : send(messages, delayMs);
    await expect(startJob(h.deps, JOB, PLAN, UNITS)).rejects.toThrow('killed');
    h.queue.send = send;
    expect(await startJob(h.deps, JOB, PLAN, UNITS)).toBe('resent');
    expect(await startJob(h.deps, JOB, PLAN, UNITS)).toBe('exists');
  });
});

describe('fan-out: a fan-in that fails', () => {
  it('is tried again on the redelivery after a transient failure', async () => {
    const h = setup();
    let failures = 1;
    const { work, fanIns } = sumWork();
    const flaky: Work = {
      ...work,
      fanIn: (plan, round, results, signal) =>
        failures-- > 0 ? Promise.reject(new TransientError('503')) : work.fanIn(plan, round, results, signal),
    };
    await startJob(h.deps, JOB, PLAN, UNITS);
    await h.drain(flaky);
    expect(fanIns).toEqual([0, 1]);
    expect(await h.store.outcome(JOB)).toEqual({ total: TOTAL, rounds: 2 });
  });

  it('parks the job as failed after maxFanIns failures, and later messages say so', async () => {
    const h = setup(new MemoryFanOutStore(), { maxFanIns: 3 });
    const broken: Work = { ...sumWork().work, fanIn: () => Promise.reject(new Error('out of memory')) };
    await startJob(h.deps, JOB, PLAN, UNITS);
    const handled = await h.drain(broken);
    expect(count(handled, 'fan-in-failed')).toBe(1);
    expect((await h.store.job(JOB))?.record).toMatchObject({ phase: 'failed', fanIns: 3 });
    expect((await h.store.job(JOB))?.record.error).toMatch(/out of memory/);
    expect(h.lines.filter((l) => l.startsWith('error'))).toHaveLength(1);
    expect(kinds(handled).at(-1)).toBe('job-failed');
  });

  it('parks the job when a unit fails for good, and later messages say so', async () => {
    const h = setup();
    const { work } = sumWork();
    const broken: Work = {
      ...work,
      runUnit: (plan, round, unit) =>
        unit === 'c' ? Promise.reject(new PermanentError('corrupt input')) : work.runUnit(plan, round, unit),
    };
    await startJob(h.deps, JOB, PLAN, UNITS);
    const handled = await h.drain(broken);
    expect(count(handled, 'unit-failed')).toBe(1);
    expect((await h.store.job(JOB))?.record).toMatchObject({ phase: 'failed' });
    expect((await h.store.job(JOB))?.record.error).toMatch(
      /unit "c" of round 0: PermanentError: corrupt input/,
    );
    expect(kinds(handled).slice(-1)).toEqual(['job-failed']);
  });

  it('parks the job at once on a PermanentError', async () => {
    const h = setup();
    const broken: Work = { ...sumWork().work, fanIn: () => Promise.reject(new PermanentError('bad plan')) };
    await startJob(h.deps, JOB, PLAN, UNITS);
    await h.drain(broken);
    expect((await h.store.job(JOB))?.record).toMatchObject({ phase: 'failed', fanIns: 1 });
  });

  it('parks the job when the fan-in asks for a round without units', async () => {
    const h = setup();
    const empty: Work = { ...sumWork().work, fanIn: () => Promise.resolve({ next: { units: [] } }) };
    await startJob(h.deps, JOB, PLAN, UNITS);
    await h.drain(empty);
    expect((await h.store.job(JOB))?.record.error).toMatch(/at least one unit/);
  });
});

describe('fan-out: messages', () => {
  it('parses a unit message and a fan-in message, as JSON or text', () => {
    expect(parseFanOutMessage({ job: JOB, round: 0, unit: '3' })).toEqual({ job: JOB, round: 0, unit: '3' });
    expect(parseFanOutMessage(`{"job":"${JOB}","round":2,"fanIn":true}`)).toEqual({
      job: JOB,
      round: 2,
      fanIn: true,
    });
  });

  it.each([
    ['not JSON', 'hello'],
    ['no unit', { job: JOB, round: 0 }],
    ['both kinds', { job: JOB, round: 0, unit: 'a', fanIn: true }],
    ['a negative round', { job: JOB, round: -1, unit: 'a' }],
    ['a job id with a slash', { job: 'a/b', round: 0, unit: 'a' }],
  ])('refuses %s as permanent', (_name, message) => {
    expect(() => parseFanOutMessage(message)).toThrow(PermanentError);
  });

  it('refuses a unit that is not in its round', async () => {
    const h = setup();
    await startJob(h.deps, JOB, PLAN, UNITS);
    await expect(
      handleFanOutMessage(h.deps, sumWork().work, { job: JOB, round: 0, unit: 'z' }, h.log),
    ).rejects.toThrow(PermanentError);
  });

  it('is handled through the queue trigger shape, logging what it did', async () => {
    const h = setup();
    const lines: unknown[][] = [];
    const context = new InvocationContext({
      functionName: 'fanOut',
      logHandler: (_level, ...args) => lines.push(args),
    });
    const handler = makeFanOutHandler(() => Promise.resolve(h.deps), sumWork().work);
    await startJob(h.deps, JOB, PLAN, ['a']);
    const [unit] = h.queue.take().filter((m) => 'unit' in m);
    await handler(unit, context);
    expect(lines.map((l) => String(l[0]))).toEqual(['fanOut: unit ran; next-round: round 1 of 2 units sent']);
  });
});

describe('fan-out: plans are opaque', () => {
  it('hands the plan and the round context to the work as stored', async () => {
    const h = setup();
    const seen: [Json, Round][] = [];
    const plan: Json = { nested: { list: [1, 'two', null, true] }, text: 'é😀' };
    const work: Work = {
      runUnit: (p, round) => {
        seen.push([p, round]);
        return Promise.resolve(null);
      },
      fanIn: () => Promise.resolve({ done: null }),
    };
    await startJob(h.deps, JOB, plan, ['only'], { calibration: [0.5] });
    await h.drain(work);
    expect(seen).toEqual([[plan, { job: JOB, index: 0, units: ['only'], context: { calibration: [0.5] } }]]);
    expect((await h.store.job(JOB))?.record.phase).toBe('done');
  });
});
