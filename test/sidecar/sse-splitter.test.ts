import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseSplitter } from '../../src/sidecar/sse.js';

/** The events of a whole stream, split at once by the SSE rule (a line end, then an empty line). */
function reference(text: string): { events: string[]; rest: string } {
  const events: string[] = [];
  let rest = text;
  for (;;) {
    const blank = /(?:\r\n|\n|\r(?!\n))(\r\n|\n|\r(?!\n))/.exec(rest);
    // A CR at the very end may still be followed by an LF: in a whole stream it ends a line.
    const end = blank ?? /(?:\r\n|\n|\r)(\r)$/.exec(rest);
    if (end === null) break;
    events.push(rest.slice(0, end.index));
    rest = rest.slice(end.index + end[0].length);
  }
  return { events, rest };
}

function split(text: string, cuts: number[]): { events: string[]; rest: string } {
  const splitter = new SseSplitter();
  const events: string[] = [];
  const push = (text: string): void => {
    for (const e of splitter.push(text)) events.push(typeof e === 'string' ? e : `unread:${e.unread}`);
  };
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < text.length)].sort((a, b) => a - b)) {
    push(text.slice(from, cut));
    from = cut;
  }
  push(text.slice(from));
  return { events, rest: splitter.rest() };
}

const line = fc.constantFrom(
  'data: {"a":1}',
  'data: x',
  'id: 7',
  ': comment',
  'data',
  'event: delta',
  'é東🚀',
);
const end = fc.constantFrom('\n', '\r\n', '\r');
const stream = fc
  .array(fc.tuple(fc.array(fc.tuple(line, end), { minLength: 1, maxLength: 3 }), end), { maxLength: 6 })
  .map((events) => events.map(([lines, blank]) => lines.map(([l, e]) => l + e).join('') + blank).join(''));

describe('SseSplitter', () => {
  it('finds the same events however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(400), { maxLength: 12 }), (text, cuts) => {
        // Events found do not depend on where the chunks end.
        const whole = split(text, []);
        expect(split(text, cuts).events).toEqual(whole.events);
        expect(whole.events).toEqual(reference(text).events);
      }),
    );
  });

  it('splits vLLM-style events, and a blank line split across chunks', () => {
    const splitter = new SseSplitter();
    expect(splitter.push('data: {"a":1}\n\ndata: {"b":')).toEqual(['data: {"a":1}']);
    expect(splitter.push('2}\n')).toEqual([]);
    expect(splitter.push('\ndata: [DONE]\r')).toEqual(['data: {"b":2}']);
    expect(splitter.push('\n\r\n')).toEqual(['data: [DONE]']);
    expect(splitter.rest()).toBe('');
  });

  it('keeps an unterminated last event as it came', () => {
    const splitter = new SseSplitter();
    expect(splitter.push('data: 1\n\ndata: {"usage":')).toEqual(['data: 1']);
    expect(splitter.rest()).toBe('data: {"usage":');
  });

  it('reads one 16 MB event sent in 64 KB pieces whole', () => {
    const payload = 'x'.repeat(16 * 1024 * 1024);
    const text = `data: ${payload}\n\ndata: [DONE]\n\n`;
    const splitter = new SseSplitter();
    const events: (string | { unread: string })[] = [];
    for (let i = 0; i < text.length; i += 65_536) events.push(...splitter.push(text.slice(i, i + 65_536)));
    expect(events.length).toBe(2);
    expect((events[0] as string).length).toBe(payload.length + 6);
    expect(events[1]).toBe('data: [DONE]');
  });

  it('passes an event past its bound on unread, as it came, and reads the next one', () => {
    const splitter = new SseSplitter(1000);
    const big = `data: ${'y'.repeat(3000)}\r\n\r\n`;
    const out: (string | { unread: string; first: boolean })[] = [];
    for (let i = 0; i < big.length; i += 200) out.push(...splitter.push(big.slice(i, i + 200)));
    out.push(...splitter.push('data: {"small":1}\n\n'));
    const unread = out.filter((e) => typeof e !== 'string').map((e) => e.unread);
    expect(unread.join('')).toBe(big);
    expect(Math.max(...unread.map((u) => u.length))).toBeLessThanOrEqual(1200);
    expect(out.filter((e) => typeof e === 'string')).toEqual(['data: {"small":1}']);
    expect(out.filter((e) => typeof e !== 'string' && e.first)).toHaveLength(1); // one event unread
  });
});
