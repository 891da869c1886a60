import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hash53 } from '../../../src/domain/hash.js';
import type { UsageRecord } from '../../../src/domain/records.js';
import { WorkloadSampler } from '../../../src/domain/replay/sampler.js';

function record(eventId: string, feature: string, requestClass: string): UsageRecord {
  return {
    type: 'usage',
    eventId,
    requestId: `r-${eventId}`,
    tenant: 'acme',
    feature,
    model: 'llama',
    requestClass,
    pod: 'pod-a',
    gpuSku: 'Standard_NC24ads_A100_v4',
    gpuCount: 1,
    startedAt: 0,
    firstTokenAt: null,
    finishedAt: 1,
    promptTokens: 100,
    completionTokens: 10,
    cachedPromptTokens: 0,
    queueMs: 0,
    status: 'ok',
  };
}

/** The sample as the whole day sorted would give it (what the sampler must equal, holding less). */
function reference(events: readonly UsageRecord[], size: number, perGroup: number): string[] {
  const unique = [...new Map(events.map((e) => [e.eventId, e])).values()];
  const order = (a: UsageRecord, b: UsageRecord) =>
    hash53(a.eventId) - hash53(b.eventId) || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
  const sorted = [...unique].sort(order);
  const chosen = sorted.slice(0, size);
  const group = (r: UsageRecord) => JSON.stringify([r.feature, r.requestClass]);
  const groups = [...new Set(sorted.map(group))].sort();
  for (const g of perGroup === 0 ? [] : groups) {
    const all = sorted.filter((r) => group(r) === g);
    const next = [...all.filter((r) => !chosen.slice(0, size).includes(r)), ...all];
    let count = chosen.slice(0, size).filter((r) => group(r) === g).length;
    for (let i = 0; count < perGroup; i += 1, count += 1) chosen.push(next[i % next.length] as UsageRecord);
  }
  return chosen.map((r) => r.eventId);
}

describe('the workload sampler', () => {
  it('gives, one event at a time, the sample the whole day sorted gives, copies of an event once', () => {
    const events = fc.array(
      fc.record({
        id: fc.integer({ min: 0, max: 400 }),
        feature: fc.constantFrom('chat', 'search', 'pilot'),
        requestClass: fc.constantFrom('interactive', 'batch'),
      }),
      { maxLength: 300 },
    );
    fc.assert(
      fc.property(
        events,
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 12 }),
        (drawn, size, perGroup) => {
          // An id comes with one feature and class: a copy is the same event.
          const features = ['chat', 'search', 'pilot'];
          const records = drawn.map((d) =>
            record(`e-${d.id}`, features[d.id % 3] ?? 'chat', d.id % 2 === 0 ? 'interactive' : 'batch'),
          );
          const sampler = new WorkloadSampler('llama', size, undefined, perGroup);
          for (const r of records) sampler.add(r);
          expect(sampler.result().chosen.map((r) => r.eventId)).toEqual(reference(records, size, perGroup));
        },
      ),
    );
  });

  it("holds the sample, not the day: a million events' sample of 50 is the 50 smallest hashes", () => {
    const sampler = new WorkloadSampler('llama', 50, undefined, 5);
    let smallest: number[] = [];
    for (let i = 0; i < 1_000_000; i += 1) {
      const id = `ev-${i}`;
      sampler.add(record(id, i % 1000 === 0 ? 'rare' : 'chat', 'interactive'));
      if (i % 1000 === 0 || smallest.length < 50 || hash53(id) < (smallest[49] ?? Infinity)) {
        smallest.push(hash53(id));
        smallest = smallest.sort((a, b) => a - b).slice(0, 50);
      }
    }
    const result = sampler.result();
    expect(result.eligible).toBe(1_000_000);
    expect(result.chosen.slice(0, 50).map((r) => hash53(r.eventId))).toEqual(smallest);
    expect(result.chosen.filter((r) => r.feature === 'rare').length).toBeGreaterThanOrEqual(5);
  });
});
