import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseRelay } from '../../src/sidecar/relay.js';
import { chatRelay, counts } from './relay-helpers.js';

const usage = (n: number) => ({
  prompt_tokens: 12,
  total_tokens: 12 + n,
  completion_tokens: n,
  prompt_tokens_details: { cached_tokens: 4 },
});
const contentChunk = (content: string, n: number) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
  usage: usage(n),
});
const roleChunk = {
  ...contentChunk('', 0),
  choices: [{ index: 0, delta: { role: 'assistant', content: '' } }],
};
const sse = (data: unknown): string => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const events = (text: string): unknown[] =>
  text
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => e.slice(6))
    .map((d) => (d === '[DONE]' ? d : (JSON.parse(d) as unknown)));

function run(relay: SseRelay, parts: string[]): string {
  return parts.map((p) => relay.push(Buffer.from(p))).join('') + relay.end();
}

const notAsked = { usage: false, continuousUsage: false };

describe('SseRelay', () => {
  it('takes usage out of content chunks, whatever the content says, and keeps the rest exactly', () => {
    // Content written to look like the usage key, quotes, backslashes and non-ASCII text.
    const content = fc.oneof(
      fc.string(),
      fc.constantFrom(
        ',"usage":{"prompt_tokens":1}}',
        '"choices":[]',
        '\\",\\"usage\\":{',
        'Zürich 東京 🚀',
        '\n\n',
      ),
    );
    fc.assert(
      fc.property(fc.array(content, { minLength: 1, maxLength: 6 }), (contents) => {
        const relay = chatRelay(notAsked, () => 1);
        const chunks = contents.map((c, i) => contentChunk(c, i + 1));
        const out = run(relay, [sse(roleChunk), ...chunks.map(sse), sse('[DONE]')]);
        const expected = [roleChunk, ...chunks].map(({ usage: _u, ...rest }) => rest);
        expect(events(out)).toEqual([...expected, '[DONE]']);
        expect(counts(relay)).toEqual(counts(usage(contents.length)));
        expect(relay.tally.ended).toBe(true);
      }),
    );
  });

  it('passes content chunks unchanged to a client that asked for continuous usage', () => {
    const relay = chatRelay({ usage: true, continuousUsage: true }, () => 1);
    const input = [sse(roleChunk), sse(contentChunk('a', 1)), sse(contentChunk('b', 2))];
    expect(run(relay, input)).toBe(input.join(''));
    expect(relay.tally.result().completionTokens).toBe(2);
  });

  it('drops the final usage chunk the client did not ask for, and reads its metrics', () => {
    const final = { id: 'chatcmpl-1', choices: [], usage: usage(3), metrics: { queue_time_ms: 7 } };
    const relay = chatRelay(notAsked, () => 1);
    const out = run(relay, [sse(roleChunk), sse(contentChunk('x', 1)), sse(final), sse('[DONE]')]);
    expect(events(out).some((e) => typeof e === 'object' && e !== null && 'metrics' in e)).toBe(false);
    expect(relay.tally.result().metrics).toEqual({ queue_time_ms: 7 });
    expect(relay.tally.result().completionTokens).toBe(3);
  });

  it('keeps the final usage chunk for a client that asked for usage', () => {
    const final = { id: 'chatcmpl-1', choices: [], usage: usage(1) };
    const relay = chatRelay({ usage: true, continuousUsage: false }, () => 1);
    const out = run(relay, [sse(contentChunk('x', 1)), sse(final)]);
    expect(events(out).at(-1)).toEqual(final);
  });

  it('notes the first token when content first appears, not at the role chunk', () => {
    let clock = 100;
    const relay = chatRelay(notAsked, () => clock);
    relay.push(Buffer.from(sse(roleChunk)));
    expect(relay.firstTokenAt).toBeUndefined();
    clock = 250;
    relay.push(Buffer.from(sse(contentChunk('hi', 1))));
    clock = 300;
    relay.push(Buffer.from(sse(contentChunk('there', 2))));
    expect(relay.firstTokenAt).toBe(250);
  });

  it('notes an error event after content', () => {
    const relay = chatRelay(notAsked, () => 1);
    const error = { error: { message: 'engine failure', code: 500 } };
    run(relay, [sse(contentChunk('x', 1)), sse(error), sse('[DONE]')]);
    expect(relay.tally.failed).toBe(true);
  });

  it('strips usage that is not the last key, through the full parse', () => {
    const { usage: u, ...rest } = contentChunk('x', 1);
    const reordered = { id: rest.id, usage: u, choices: rest.choices };
    const relay = chatRelay(notAsked, () => 1);
    const out = run(relay, [sse(contentChunk('a', 1)), sse(reordered)]);
    expect(events(out)[1]).toEqual({ id: rest.id, choices: rest.choices });
  });

  it('relays a stream cut at every byte boundary, multi-byte characters included, as if it came whole', () => {
    const whole = [sse(roleChunk), sse(contentChunk('Zürich 東京 🚀', 1)), sse('[DONE]')].join('');
    const bytes = Buffer.from(whole);
    const expected = run(
      chatRelay(notAsked, () => 1),
      [whole],
    );
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const relay = chatRelay(notAsked, () => 1);
      const out = relay.push(bytes.subarray(0, cut)) + relay.push(bytes.subarray(cut)) + relay.end();
      expect(out).toBe(expected);
    }
  });

  it('passes an unterminated last event on as it came', () => {
    const relay = chatRelay(notAsked, () => 1);
    expect(run(relay, [sse(contentChunk('a', 1)), 'data: {"partial'])).toMatch(/data: \{"partial$/);
  });
});
