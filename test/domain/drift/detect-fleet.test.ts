import { describe, expect, it } from 'vitest';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES } from '../../../src/domain/drift/rules.js';
import { capacity, day, history, TODAY, type DayShape } from './fixture.js';

const detect = (today: DayShape, past = history(28), open: readonly string[] = []) =>
  detectDrift({ today: day(TODAY, today), history: past, rules: DEFAULT_DRIFT_RULES, open: new Set(open) });

describe('idle share per model', () => {
  const idleToday: DayShape = {
    models: [capacity('llama-3-8b', 0.9)],
    pods: [
      capacity('llama-3-8b', 0.6, 'pod-a', 400),
      capacity('llama-3-8b', 1, 'pod-b', 400),
      capacity('mistral-7b', 1, 'pod-c', 400),
    ],
  };

  it('flags a model left idle, naming its idlest pods as contributors', () => {
    const alert = detect(idleToday).alerts.find((a) => a.rule === 'idleShare');
    expect(alert).toMatchObject({
      id: 'idleShare:llama-3-8b',
      severity: 'critical',
      scope: { model: 'llama-3-8b' },
      value: 0.9,
      baseline: 0.3,
      threshold: 0.6,
      contributors: [
        { name: 'pod-b', value: 8 * 86_400 },
        { name: 'pod-a', value: 8 * 86_400 * 0.6 },
      ],
    });
    expect(alert?.message).toBe(
      'Idle share of llama-3-8b rose 200% to 90% of 192 GPU-hours from a median of 30% over 4 Mondays ' +
        '(critical at 60%); most idle: pod-b, pod-a.',
    );
  });

  it('does not flag a small model, however idle', () => {
    const small = { models: [capacity('llama-3-8b', 0.9, undefined, 20)] };
    const past = history(28, () => ({ models: [capacity('llama-3-8b', 0.3, undefined, 20)] }));
    expect(detect(small, past).alerts).toEqual([]);
  });

  it('judges a model that was never idle on the absolute change alone', () => {
    const past = history(28, () => ({ models: [capacity('llama-3-8b', 0)] }));
    expect(detect({ models: [capacity('llama-3-8b', 0.1)] }, past).alerts).toEqual([]);
    const alert = detect({ models: [capacity('llama-3-8b', 0.2)] }, past).alerts[0];
    expect(alert).toMatchObject({ rule: 'idleShare', severity: 'warning', baseline: 0, threshold: 0.15 });
    expect(alert?.message).toContain('rose to 20% of 192 GPU-hours from a median of 0%');
  });
});

describe('data quality, fleet-wide', () => {
  it('flags rejected events that jump, against the events read', () => {
    const alert = detect({ fleet: { rejected: 3000 } }).alerts.find((a) => a.rule === 'rejectedShare');
    expect(alert).toMatchObject({
      id: 'rejectedShare',
      severity: 'warning',
      scope: {},
      value: 0.03,
      baseline: 0.0002,
    });
    expect(alert?.message).toBe(
      'Rejected events rose to 3% of 100,000 events read from a median of 0.02% over 4 Mondays (warning at 0.12%).',
    );
  });

  it('flags unmetered requests the same way', () => {
    const alert = detect({ fleet: { unmeteredRequests: 8000 } }).alerts.find(
      (a) => a.rule === 'unmeteredShare',
    );
    expect(alert?.severity).toBe('critical');
  });

  it('needs the minimum number of events read', () => {
    expect(detect({ fleet: { eventsRead: 500, rejected: 300 } }).alerts).toEqual([]);
  });
});
