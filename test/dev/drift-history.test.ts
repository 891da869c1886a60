import { describe, expect, it } from 'vitest';
import { generateHistory, podName } from '../../dev/drift-history/generate.js';
import { FLEET_GROUPS, MODEL_SPECS } from '../../dev/drift-history/fleet.js';
import { TENANTS } from '../../src/simulator/workload.js';
import { NOISE, trendRequests } from '../../dev/drift-history/group-day.js';
import { lognormal, mixtureMean } from '../../dev/drift-history/mixture.js';
import type { IncidentSpec } from '../../dev/drift-history/incidents.js';
import { BIN_EDGES, histogramTotal, quantile } from '../../src/domain/metrics/histogram.js';
import { HISTOGRAMS, type DailyMetrics, type GroupMetrics } from '../../src/domain/metrics/metrics.js';

const START = '2026-08-03'; // a Monday
const LLAMA = MODEL_SPECS[0]?.name ?? '';
const CHAT = { tenant: 'contoso', feature: 'chat', model: LLAMA, requestClass: 'interactive' };
const quiet = generateHistory({ seed: 5, days: 21, start: START });

function withIncident(spec: IncidentSpec): DailyMetrics {
  const history = generateHistory({ seed: 5, days: 21, start: START, incidents: [spec] });
  const day = history.days[spec.day];
  if (day === undefined) throw new Error('no such day');
  return day;
}

function group(day: DailyMetrics | undefined, scope: { tenant: string; feature: string }): GroupMetrics {
  const found = day?.groups.find((g) => g.tenant === scope.tenant && g.feature === scope.feature);
  if (found === undefined) throw new Error(`no group ${scope.tenant}/${scope.feature}`);
  return found;
}

const ratio = (after: number, before: number): number => after / before;

describe('generateHistory', () => {
  it('writes the same history for the same seed, and another for another seed', () => {
    const again = generateHistory({ seed: 5, days: 21, start: START });
    expect(JSON.stringify(again.days)).toBe(JSON.stringify(quiet.days));
    const other = generateHistory({ seed: 6, days: 21, start: START });
    expect(JSON.stringify(other.days)).not.toBe(JSON.stringify(quiet.days));
  });

  it('gives every day its date, the fixed bins, and groups sorted by their keys', () => {
    expect(quiet.days.map((d) => d.date).slice(0, 2)).toEqual(['2026-08-03', '2026-08-04']);
    expect(quiet.days[20]?.date).toBe('2026-08-23');
    for (const day of quiet.days) {
      expect(day.bins).toEqual(BIN_EDGES);
      const keys = day.groups.map((g) => [g.tenant, g.feature, g.model, g.requestClass].join('\u0000'));
      expect(keys).toEqual([...keys].sort());
    }
  });

  it('fills each histogram with exactly the requests it describes', () => {
    for (const g of quiet.days.flatMap((d) => d.groups)) {
      for (const name of HISTOGRAMS) {
        const expected = name === 'ttftMs' ? g.requestsWithFirstToken : g.requests;
        expect(histogramTotal(g.histograms[name]), `${g.feature} ${name}`).toBe(expected);
      }
      expect(g.requestsWithFirstToken).toBe(g.requests - g.errorRequests);
    }
  });

  it('puts the median of the token histograms where the token counts say', () => {
    // The mean of a log-normal sits exp(sigma^2/2) above its median.
    for (const g of quiet.days[3]?.groups ?? []) {
      const spec = FLEET_GROUPS.find((s) => s.tenant === g.tenant && s.feature === g.feature);
      const sigma = spec?.completion.sigma ?? 0;
      const median = g.completionTokens / g.requests / Math.exp((sigma * sigma) / 2);
      const bin = quantile(BIN_EDGES.completionTokens, g.histograms.completionTokens, 0.5) ?? 0;
      expect(bin).toBeGreaterThanOrEqual(median * 0.97);
      expect(bin).toBeLessThanOrEqual(median * 1.2 * 1.03 + 1); // the upper edge of its bin
    }
  });

  it('keeps the ordinary noise inside its stated bounds', () => {
    const v = NOISE.volumeSigma * NOISE.clamp;
    const s = NOISE.shapeSigma * NOISE.clamp;
    for (const [day, metrics] of quiet.days.entries()) {
      const weekend = day % 7 >= 5;
      for (const g of metrics.groups) {
        const spec = FLEET_GROUPS.find((x) => x.tenant === g.tenant && x.feature === g.feature);
        if (spec === undefined) throw new Error('unknown group');
        const volume = g.requests / trendRequests(spec, day, weekend);
        const slack = 1 / Math.min(g.requests, 1000); // whole requests of a tiny group
        expect(volume).toBeGreaterThanOrEqual(Math.exp(-v) - slack);
        expect(volume).toBeLessThanOrEqual(Math.exp(v) * NOISE.burst.max + slack);
        const perRequest =
          g.promptTokens / g.requests / mixtureMean(lognormal(spec.prompt.median, spec.prompt.sigma));
        expect(perRequest).toBeGreaterThanOrEqual(Math.exp(-s) - slack);
        expect(perRequest).toBeLessThanOrEqual(Math.exp(s) + slack);
      }
    }
  });

  it('has quieter weekends than weekdays for interactive traffic', () => {
    const chat = quiet.days.map((d) => group(d, CHAT).requests);
    expect(chat[5]).toBeLessThan((chat[4] ?? 0) * 0.6); // Saturday against Friday
    expect(chat[6]).toBeLessThan((chat[7] ?? 0) * 0.6); // Sunday against Monday
  });

  it('changes only what an incident touches', () => {
    const day = withIncident({ kind: 'completion-growth', day: 10, duration: 2, size: 3, scope: CHAT });
    const others = (d: DailyMetrics | undefined) =>
      JSON.stringify(d?.groups.filter((g) => !(g.tenant === CHAT.tenant && g.feature === CHAT.feature)));
    expect(others(day)).toBe(others(quiet.days[10]));
  });
});

describe('incidents in the metrics', () => {
  const before = quiet.days[10];

  it('grows the completion tokens per request of the group k-fold', () => {
    const day = withIncident({ kind: 'completion-growth', day: 10, duration: 2, size: 3, scope: CHAT });
    const perRequest = (g: GroupMetrics) => g.completionTokens / g.requests;
    expect(ratio(perRequest(group(day, CHAT)), perRequest(group(before, CHAT)))).toBeCloseTo(3, 3);
    const p50 = (g: GroupMetrics) =>
      quantile(BIN_EDGES.completionTokens, g.histograms.completionTokens, 0.5) ?? 0;
    expect(ratio(p50(group(day, CHAT)), p50(group(before, CHAT)))).toBeGreaterThan(2.3);
  });

  it('multiplies the cost per token, leaving the tokens alone', () => {
    const day = withIncident({ kind: 'cost-per-token', day: 10, duration: 1, size: 2, scope: CHAT });
    expect(group(day, CHAT).completionTokens).toBe(group(before, CHAT).completionTokens);
    expect(ratio(group(day, CHAT).costUsd, group(before, CHAT).costUsd)).toBeCloseTo(2, 4);
  });

  it('slows the requests of one pod, so the p95 latency and TTFT of its model rise', () => {
    const scope = { model: LLAMA, pod: podName(LLAMA, 1) };
    const day = withIncident({ kind: 'latency', day: 10, duration: 1, size: 3, scope });
    const p95 = (g: GroupMetrics, name: 'latencyMs' | 'ttftMs') =>
      quantile(BIN_EDGES[name], g.histograms[name], 0.95) ?? 0;
    expect(ratio(p95(group(day, CHAT), 'latencyMs'), p95(group(before, CHAT), 'latencyMs'))).toBeGreaterThan(
      1.5,
    );
    expect(ratio(p95(group(day, CHAT), 'ttftMs'), p95(group(before, CHAT), 'ttftMs'))).toBeGreaterThan(1.5);
    const other = { tenant: 'northwind', feature: 'summarize-docs' }; // served by the other model
    expect(group(day, other).histograms).toEqual(group(before, other).histograms);
  });

  it('scales a model out, raising its idle share', () => {
    const day = withIncident({ kind: 'idle', day: 10, duration: 1, size: 2, scope: { model: LLAMA } });
    const idleShare = (d: DailyMetrics | undefined) => {
      const m = d?.models.find((x) => x.model === LLAMA);
      return (m?.idleGpuSeconds ?? 0) / (m?.fleetGpuSeconds ?? 1);
    };
    expect(idleShare(day)).toBeGreaterThan(idleShare(before) + 0.2);
    const pods = (d: DailyMetrics | undefined) => d?.pods.filter((p) => p.model === LLAMA).length ?? 0;
    expect(pods(day)).toBe(2 * pods(before));
  });

  it('multiplies the error rate, the rejected events, and moves the prompt lengths', () => {
    const errors = withIncident({ kind: 'error-rate', day: 10, duration: 1, size: 8, scope: CHAT });
    expect(ratio(group(errors, CHAT).errorRequests, group(before, CHAT).errorRequests)).toBeCloseTo(8, 1);
    const rejected = withIncident({ kind: 'data-quality', day: 10, duration: 1, size: 20, scope: {} });
    expect(ratio(rejected.fleet.rejected, before?.fleet.rejected ?? 1)).toBeCloseTo(20, 1);
    const prompts = withIncident({ kind: 'prompt-shift', day: 10, duration: 1, size: 2, scope: CHAT });
    expect(ratio(group(prompts, CHAT).promptTokens, group(before, CHAT).promptTokens)).toBeCloseTo(2, 3);
  });

  it('makes a feature appear, and another disappear, for the rest of the history', () => {
    const scope = { tenant: 'contoso', feature: 'meeting-notes', model: LLAMA };
    const history = generateHistory({
      seed: 5,
      days: 21,
      start: START,
      incidents: [
        { kind: 'new-feature', day: 10, duration: 1, size: 20_000, scope },
        {
          kind: 'feature-gone',
          day: 12,
          duration: 1,
          size: 1,
          scope: { tenant: TENANTS.tailwind, feature: 'translate' },
        },
      ],
    });
    const has = (day: number, feature: string) =>
      history.days[day]?.groups.some((g) => g.feature === feature);
    expect([has(9, 'meeting-notes'), has(10, 'meeting-notes'), has(20, 'meeting-notes')]).toEqual([
      false,
      true,
      true,
    ]);
    expect([has(11, 'translate'), has(12, 'translate'), has(20, 'translate')]).toEqual([true, false, false]);
    expect(history.incidents.map((i) => i.lastDate)).toEqual(['2026-08-23', '2026-08-23']);
  });

  it('refuses an incident outside the history', () => {
    expect(() =>
      generateHistory({
        seed: 1,
        days: 5,
        start: START,
        incidents: [{ kind: 'idle', day: 5, duration: 1, size: 2, scope: {} }],
      }),
    ).toThrow(RangeError);
  });
});
