import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVllm } from '../../dev/fake-vllm.js';
import { parseRecord } from '../../src/domain/fast-parse.js';
import { startTestProxy, type RunningProxy } from './proxy-harness.js';

/**
 * The sidecar measures a streamed answer's stalls from its tokens' arrivals (contracts.md §2,
 * attributes.stalls): a silence during which the pod's other streams went on getting tokens.
 */

const vllm = new FakeVllm();
let sidecar: RunningProxy;

beforeAll(async () => {
  sidecar = await startTestProxy(await vllm.start());
});

afterAll(async () => {
  await sidecar.stop();
  await vllm.stop();
});

async function stream(id: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(`${sidecar.base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': 'contoso', 'x-request-id': id, ...headers },
    body: JSON.stringify({ model: 'fake-model', stream: true, messages: [] }),
  });
  await response.text();
  for (let i = 0; i < 200; i += 1) {
    const event = sidecar.events.find((e) => e.requestId === id);
    if (event !== undefined) return event;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no usage event for ${id}`);
}

describe('stalls in a streamed answer', () => {
  it('are on the event of the stream that stalled while another went on, and on no other', async () => {
    const [stalled, steady] = await Promise.all([
      stream('stalled', {
        'x-fake-tokens': '30',
        'x-fake-token-delay-ms': '20',
        'x-fake-stall-after': '10',
        'x-fake-stall-ms': '600',
      }),
      stream('steady', { 'x-fake-tokens': '60', 'x-fake-token-delay-ms': '20' }),
    ]);
    expect(steady.attributes).toBeUndefined();
    const text = (stalled.attributes as Record<string, string> | undefined)?.stalls;
    expect(text).toMatch(/^\d+\/\d+\/10$/);
    const [atMs, gapMs] = (text ?? '').split('/').map(Number);
    // Nine gaps of about 20 ms before it (from the event's first token, which vLLM's generation
    // time puts a few ms off the sidecar's), then 600 ms of silence and the usual 20 (timers run
    // late on a loaded machine, never early).
    expect(atMs).toBeGreaterThanOrEqual(120);
    expect(atMs).toBeLessThan(1000);
    expect(gapMs).toBeGreaterThanOrEqual(600);
    expect(gapMs).toBeLessThan(2000);
    // The event reads back with its stall, for the allocation.
    const record = parseRecord(stalled);
    expect(record.ok && record.record?.type === 'usage' && record.record.stalls).toEqual([
      { atMs, gapMs, tokens: 10 },
    ]);
  });

  it('are not seen in a stream alone on the pod: no other stream shows that the pod stepped on', async () => {
    const alone = await stream('alone', {
      'x-fake-tokens': '20',
      'x-fake-token-delay-ms': '20',
      'x-fake-stall-after': '10',
      'x-fake-stall-ms': '600',
    });
    expect(alone.completionTokens).toBe(20);
    expect(alone.attributes).toBeUndefined();
  });
});
