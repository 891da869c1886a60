import { describe, expect, it } from 'vitest';
import { hash53 } from '../../../src/domain/hash.js';
import type { UsageRecord } from '../../../src/domain/records.js';
import { replayRequest, sampleWorkload, syntheticPrompt } from '../../../src/domain/replay/workload.js';

function record(eventId: string, fields: Partial<UsageRecord> = {}): UsageRecord {
  return {
    type: 'usage',
    eventId,
    requestId: `r-${eventId}`,
    tenant: 'acme',
    feature: 'chat',
    model: 'llama',
    requestClass: 'interactive',
    pod: 'pod-a',
    gpuSku: 'Standard_NC24ads_A100_v4',
    gpuCount: 1,
    startedAt: 0,
    firstTokenAt: null,
    finishedAt: 1,
    promptTokens: 120,
    completionTokens: 40,
    cachedPromptTokens: 0,
    queueMs: 0,
    status: 'ok',
    ...fields,
  };
}

const many = Array.from({ length: 200 }, (_, i) => record(`e-${i}`));

describe('the workload sample', () => {
  it('takes the events whose eventId hashes smallest, at most the size asked', () => {
    const { chosen, eligible } = sampleWorkload(many, 'llama', 10);
    expect(eligible).toBe(200);
    const expected = [...many]
      .sort((a, b) => hash53(a.eventId) - hash53(b.eventId))
      .slice(0, 10)
      .map((r) => r.eventId);
    expect(chosen.map((r) => r.eventId)).toEqual(expected);
  });

  it('is the same whatever order the events come in', () => {
    const reversed = [...many].reverse();
    expect(sampleWorkload(reversed, 'llama', 25).chosen).toEqual(sampleWorkload(many, 'llama', 25).chosen);
  });

  it('keeps only the model asked, its ok events, and those that generated tokens', () => {
    const events = [
      record('a'),
      record('b', { model: 'qwen' }),
      record('c', { status: 'error' }),
      record('d', { status: 'aborted' }),
      record('e', { completionTokens: 0 }),
    ];
    const sample = sampleWorkload(events, 'llama', 10);
    expect(sample.chosen.map((r) => r.eventId)).toEqual(['a']);
    expect(sample.notGenerations).toBe(1);
  });

  it('draws another sample with a seed, the same one for the same seed', () => {
    const plain = sampleWorkload(many, 'llama', 10).chosen.map((r) => r.eventId);
    const seeded = sampleWorkload(many, 'llama', 10, '7').chosen.map((r) => r.eventId);
    expect(seeded).not.toEqual(plain);
    expect(sampleWorkload(many, 'llama', 10, '7').chosen.map((r) => r.eventId)).toEqual(seeded);
  });

  it('tops each (feature, requestClass) up to the floor with its next events in hash order', () => {
    const events = [
      ...many,
      ...Array.from({ length: 30 }, (_, i) => record(`s-${i}`, { feature: 'search', requestClass: 'batch' })),
    ];
    const sample = sampleWorkload(events, 'llama', 10, undefined, 8);
    const search = events
      .filter((r) => r.feature === 'search')
      .sort((a, b) => hash53(a.eventId) - hash53(b.eventId))
      .map((r) => r.eventId);
    const chosenSearch = sample.chosen.filter((r) => r.feature === 'search').map((r) => r.eventId);
    expect(chosenSearch).toHaveLength(8);
    // The uniform part's search events first, then the group's next ones by hash.
    expect([...chosenSearch].sort()).toEqual(search.slice(0, 8).sort());
    expect(sample.chosen.filter((r) => r.feature === 'chat').length).toBeGreaterThanOrEqual(8);
    expect(sample.added).toBe(sample.chosen.length - 10);
    expect(new Set(sample.chosen).size).toBe(sample.chosen.length);
  });

  it("repeats a group's events, in hash order, when it has fewer than the floor", () => {
    const events = [...many, record('x-1', { feature: 'pilot' }), record('x-2', { feature: 'pilot' })];
    const sample = sampleWorkload(events, 'llama', 5, undefined, 5);
    const pilot = sample.chosen.filter((r) => r.feature === 'pilot').map((r) => r.eventId);
    expect(pilot).toHaveLength(5);
    expect(new Set(pilot)).toEqual(new Set(['x-1', 'x-2']));
    // Those not in the uniform sample come first (by hash), then the group again from its start.
    const group = ['x-1', 'x-2'].sort((a, b) => hash53(a) - hash53(b));
    const uniform = new Set(sample.chosen.slice(0, 5).map((r) => r.eventId));
    const order = [...group.filter((id) => !uniform.has(id)), ...group];
    const sampled = group.filter((id) => uniform.has(id));
    const expected = [
      ...sampled,
      ...Array.from({ length: 5 - sampled.length }, (_, i) => order[i % order.length]),
    ];
    expect(pilot).toEqual(expected);
    expect(sampleWorkload(events, 'llama', 5, undefined, 5).chosen).toEqual(sample.chosen);
  });

  it('adds nothing with a floor of 0, and refuses a floor that is not a whole number >= 0', () => {
    const sample = sampleWorkload(many, 'llama', 10, undefined, 0);
    expect(sample.added).toBe(0);
    expect(sample.chosen).toHaveLength(10);
    expect(() => sampleWorkload(many, 'llama', 10, undefined, -1)).toThrow('the floor per group');
    expect(() => sampleWorkload(many, 'llama', 10, undefined, 1.5)).toThrow('the floor per group');
  });

  it('gives each sending of a repeated event its own request id and prompt, the first as before', () => {
    const once = replayRequest(record('e-1'), 'llama', 'chat');
    const first = replayRequest(record('e-1'), 'llama', 'chat', undefined, 1);
    const again = replayRequest(record('e-1'), 'llama', 'chat', undefined, 2);
    expect(first).toEqual(once);
    expect(again.requestId).toBe('replay-e-1-2');
    expect(again.body.messages).not.toEqual(once.body.messages);
    expect(again.body.max_tokens).toBe(once.body.max_tokens);
  });

  it('refuses a size below 1', () => {
    expect(() => sampleWorkload(many, 'llama', 0)).toThrow('sample size must be a whole number >= 1, got 0');
  });
});

describe('a replayed request', () => {
  it('carries the event attribution and asks for exactly its completion length', () => {
    const request = replayRequest(
      record('e-1', { tenant: 'contoso', feature: 'search', requestClass: 'batch', completionTokens: 77 }),
      'llama',
      'chat',
    );
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.attribution).toEqual({ tenant: 'contoso', feature: 'search', requestClass: 'batch' });
    expect(request.body).toMatchObject({
      model: 'llama',
      max_tokens: 77,
      min_tokens: 77,
      ignore_eos: true,
      stream: false,
    });
    expect(request.requestId).toBe('replay-e-1');
  });

  it('bills every request to one tenant when given, keeping the feature and class', () => {
    const request = replayRequest(
      record('e-3', { tenant: 'contoso', feature: 'search' }),
      'llama',
      'chat',
      'replay',
    );
    expect(request.attribution).toEqual({ tenant: 'replay', feature: 'search', requestClass: 'interactive' });
  });

  it('sends a prompt on the completions route when asked', () => {
    const request = replayRequest(record('e-2'), 'llama', 'completions');
    expect(request.path).toBe('/v1/completions');
    expect(typeof request.body.prompt).toBe('string');
    expect(request.body.messages).toBeUndefined();
  });

  it('builds a prompt of one tag and the rest a repeated word, the tag unique to the event', () => {
    const prompt = syntheticPrompt(120, 'e-1');
    const [tag, ...words] = prompt.split(' ');
    expect(words).toHaveLength(119);
    expect(new Set(words)).toEqual(new Set(['the']));
    expect(syntheticPrompt(120, 'e-2').split(' ')[0]).not.toBe(tag);
    expect(syntheticPrompt(0, 'e-1').split(' ')).toHaveLength(1);
  });

  it('names a request with an id the sidecar accepts even when the eventId has other characters', () => {
    const request = replayRequest(record('événement 1'), 'llama', 'chat');
    expect(request.requestId).toMatch(/^replay-[0-9a-z]+$/);
  });
});
