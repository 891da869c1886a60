import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/domain/events.js';
import { simulateDay, type SimulatedEvent } from '../../src/simulator/simulate.js';
import { at, DAY } from '../helpers/events.js';

const day = (options: { seed?: number; duplicateRate?: number; pods?: number; requests?: number } = {}) => [
  ...simulateDay({
    date: DAY,
    pods: options.pods ?? 3,
    seed: options.seed ?? 4,
    requests: options.requests ?? 4000,
    duplicateRate: options.duplicateRate,
  }),
];
const events = day();
const usage = events.filter((e) => e.json.type === 'usage');
const field = (e: SimulatedEvent, name: string): string => String(e.json[name]);
const hour = (e: SimulatedEvent): number => new Date(field(e, 'startedAt')).getUTCHours();

describe('simulated day', () => {
  it('writes only events that satisfy the schemas', () => {
    const bad = events.map((e) => parseEvent(e.json)).filter((r) => !r.ok);
    expect(bad).toEqual([]);
  });

  it('gives every usage event a distinct eventId and its own truth', () => {
    expect(new Set(usage.map((e) => field(e, 'eventId'))).size).toBe(usage.length);
    for (const e of usage) expect(e.truth?.eventId).toBe(e.json.eventId);
  });

  it('serves several tenants, features, models and both request classes', () => {
    const distinct = (name: string): number => new Set(usage.map((e) => field(e, name))).size;
    expect(distinct('tenant')).toBeGreaterThanOrEqual(5);
    expect(distinct('feature')).toBeGreaterThanOrEqual(5);
    expect(distinct('model')).toBe(2);
    expect(new Set(usage.map((e) => field(e, 'requestClass')))).toEqual(new Set(['interactive', 'batch']));
    expect(usage.some((e) => field(e, 'tenant').includes(','))).toBe(true);
  });

  it('is quiet at night and busy in the afternoon', () => {
    const interactive = usage.filter((e) => e.json.requestClass === 'interactive');
    const night = interactive.filter((e) => hour(e) >= 2 && hour(e) < 5).length;
    const afternoon = interactive.filter((e) => hour(e) >= 13 && hour(e) < 16).length;
    expect(afternoon).toBeGreaterThan(5 * night);
  });

  it('has errors, aborts and failures before the first token, at realistic rates', () => {
    const share = (status: string): number =>
      usage.filter((e) => e.json.status === status).length / usage.length;
    expect(share('error')).toBeGreaterThan(0.004);
    expect(share('error')).toBeLessThan(0.02);
    expect(share('aborted')).toBeGreaterThan(0.001);
    const noToken = usage.filter((e) => e.json.firstTokenAt === null);
    expect(noToken.length).toBeGreaterThan(0);
    for (const e of noToken) expect(e.json.completionTokens).toBe(0);
  });

  it('charges no GPU time to refused requests and some to everything that ran', () => {
    for (const e of usage) {
      if (e.json.httpStatus === 400) expect(e.truth?.gpuMicros).toBe(0);
      else expect(e.truth?.gpuMicros).toBeGreaterThan(0);
    }
  });

  it('covers every request of every pod with capacity windows, across midnight', () => {
    const windows = new Map<string, [number, number][]>();
    for (const e of events.filter((x) => x.json.type === 'capacity')) {
      const list = windows.get(field(e, 'pod')) ?? [];
      list.push([Date.parse(field(e, 'windowStart')), Date.parse(field(e, 'windowEnd'))]);
      windows.set(field(e, 'pod'), list);
    }
    for (const e of usage) {
      const list = windows.get(field(e, 'pod')) ?? [];
      for (const t of [Date.parse(field(e, 'startedAt')), Date.parse(field(e, 'finishedAt'))])
        expect(list.some(([s, end]) => s <= t && t <= end)).toBe(true);
    }
    for (const list of windows.values()) {
      expect(Math.min(...list.map((w) => w[0]))).toBeLessThan(Date.parse(at(0)));
      expect(Math.max(...list.map((w) => w[1]))).toBeGreaterThan(Date.parse(at(86_400)));
    }
  });

  it('includes a sidecar restart whose windows overlap', () => {
    const byPod = new Map<string, [number, number][]>();
    for (const e of events.filter((x) => x.json.type === 'capacity')) {
      const list = byPod.get(field(e, 'pod')) ?? [];
      list.push([Date.parse(field(e, 'windowStart')), Date.parse(field(e, 'windowEnd'))]);
      byPod.set(field(e, 'pod'), list);
    }
    const overlaps = [...byPod.values()].some((list) =>
      list.some((w, i) => i > 0 && w[0] < (list[i - 1]?.[1] ?? 0)),
    );
    expect(overlaps).toBe(true);
  });

  it('is deterministic for a seed and different for another', () => {
    const json = (list: SimulatedEvent[]) => list.map((e) => JSON.stringify(e.json)).join('\n');
    expect(json(day({ requests: 500 }))).toBe(json(day({ requests: 500 })));
    expect(json(day({ requests: 500, seed: 5 }))).not.toBe(json(day({ requests: 500 })));
  });

  it('redelivers events without changing or losing any first delivery', () => {
    const clean = day({ requests: 1000 });
    const noisy = day({ requests: 1000, duplicateRate: 0.1 });
    const text = (list: SimulatedEvent[]) => list.map((e) => JSON.stringify(e.json));
    expect(new Set(text(noisy))).toEqual(new Set(text(clean)));
    expect(noisy.length - clean.length).toBeGreaterThan(0.05 * clean.length);
    expect(noisy.filter((e) => e.truth !== undefined).length).toBe(
      clean.filter((e) => e.truth !== undefined).length,
    );
  });

  it('sends batch traffic in jobs that queue', () => {
    const batch = usage.filter((e) => e.json.requestClass === 'batch' && typeof e.json.queueMs === 'number');
    expect(batch.some((e) => Number(e.json.queueMs) > 1000)).toBe(true);
  });
});
