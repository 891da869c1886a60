import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  nextState,
  SingleFlight,
  Ticker,
  type PipeEvent,
  type PipeState,
} from '../../src/sidecar/pipe-state.js';

describe('the event pipe state machine', () => {
  it.each<[PipeState, PipeEvent, PipeState]>([
    ['memory', 'queue-full', 'spooling'],
    ['memory', 'send-failed', 'spooling'],
    ['spooling', 'spool-empty', 'memory'],
    ['memory', 'crash', 'crashed'],
    ['spooling', 'crash', 'crashed'],
  ])('goes from %s on %s to %s', (from, event, to) => {
    expect(nextState(from, event)).toBe(to);
  });

  it.each<PipeEvent>(['queue-full', 'send-failed', 'spool-empty', 'crash'])(
    'stays crashed on %s: what was in memory is on disk already',
    (event) => {
      expect(nextState('crashed', event)).toBe('crashed');
    },
  );
});

describe('the pipe timer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks at the period it was last armed with, and never after it is stopped', () => {
    vi.useFakeTimers();
    const ticker = new Ticker();
    const ticks: string[] = [];
    expect(ticker.armed).toBe(false);
    ticker.every(1000, () => ticks.push('flush'));
    vi.advanceTimersByTime(2000);
    ticker.every(5000, () => ticks.push('replay'));
    vi.advanceTimersByTime(5000);
    expect(ticks).toEqual(['flush', 'flush', 'replay']);
    ticker.stop();
    ticker.every(1000, () => ticks.push('after stop'));
    vi.advanceTimersByTime(10_000);
    expect(ticks).toEqual(['flush', 'flush', 'replay']);
    expect(ticker.armed).toBe(false);
  });
});

describe('a single-flight task', () => {
  it('joins a call made while it runs, and runs again once it has finished', async () => {
    let runs = 0;
    let finish: () => void = () => undefined;
    const task = new SingleFlight(
      () =>
        new Promise<void>((resolve) => {
          runs += 1;
          finish = resolve;
        }),
    );
    const first = task.run();
    expect(task.run()).toBe(first);
    expect(task.current).toBe(first);
    finish();
    await first;
    expect(task.current).toBeUndefined();
    const second = task.run();
    finish();
    await second;
    expect(runs).toBe(2);
  });
});
