import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chatRelay, counts } from './relay-helpers.js';

/** How an OpenAI-compatible upstream may lay out the same JSON and frame the same events. */
interface Layout {
  readonly spaced: boolean; // `", "` and `": "`, as Python's json.dumps writes by default
  readonly pretty: boolean; // indented over several lines, hence several `data:` lines
  readonly seed: number; // key order and which characters are written as \uXXXX
  readonly escapes: boolean;
  readonly dataSpace: boolean; // `data: x` or `data:x`
  readonly newline: '\n' | '\r\n' | '\r';
  readonly comments: boolean;
}

const CANONICAL: Layout = {
  spaced: false,
  pretty: false,
  seed: 0,
  escapes: false,
  dataSpace: true,
  newline: '\n',
  comments: false,
};

/** A tiny deterministic generator, so that one seed gives one layout. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function quote(text: string, next: () => number, escapes: boolean): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (escapes && code < 0x10000 && next() < 0.4) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += JSON.stringify(ch).slice(1, -1);
  }
  return `${out}"`;
}

function write(value: unknown, layout: Layout, next: () => number, depth = 0): string {
  const comma = layout.pretty ? ',\n' : layout.spaced ? ', ' : ',';
  const colon = layout.spaced || layout.pretty ? ': ' : ':';
  const pad = (d: number): string => (layout.pretty ? '  '.repeat(d) : '');
  const open = layout.pretty ? '\n' : '';
  if (typeof value === 'string') return quote(value, next, layout.escapes);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => pad(depth + 1) + write(v, layout, next, depth + 1));
    return `[${open}${items.join(comma)}${open}${pad(depth)}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    if (layout.seed !== 0) keys.sort(() => next() - 0.5);
    if (keys.length === 0) return '{}';
    const fields = keys.map(
      (k) =>
        `${pad(depth + 1)}${quote(k, next, layout.escapes)}${colon}${write((value as Record<string, unknown>)[k], layout, next, depth + 1)}`,
    );
    return `{${open}${fields.join(comma)}${open}${pad(depth)}}`;
  }
  return JSON.stringify(value);
}

/** One SSE event in the layout: data lines, comments, the chosen line ending and a blank line. */
function frame(data: unknown, layout: Layout, next: () => number): string {
  const text = data === '[DONE]' ? '[DONE]' : write(data, layout, next);
  const lines = text.split('\n').map((l) => `data:${layout.dataSpace ? ' ' : ''}${l}`);
  if (layout.comments) lines.splice(Math.floor(next() * (lines.length + 1)), 0, ': keep-alive');
  const event = lines.join(layout.newline) + layout.newline + layout.newline;
  return layout.comments ? `: ping${layout.newline}${layout.newline}${event}` : event;
}

/** The data of each event the client receives, read by an SSE parser that knows nothing of the relay. */
function clientData(text: string): unknown[] {
  return text
    .replace(/\r\n|\r/g, '\n')
    .split('\n\n')
    .map((event) =>
      event
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(l.startsWith('data: ') ? 6 : 5))
        .join('\n'),
    )
    .filter((data) => data !== '')
    .map((data) => (data === '[DONE]' ? data : (JSON.parse(data) as unknown)));
}

const usage = (n: number) => ({
  prompt_tokens: 12,
  total_tokens: 12 + n,
  completion_tokens: n,
  prompt_tokens_details: { cached_tokens: 4 },
});
const chunk = (content: string, n: number) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
  usage: usage(n),
});

/** A vLLM stream with continuous usage: role chunk, content, final usage chunk with metrics, [DONE]. */
function stream(contents: readonly string[], error: boolean): unknown[] {
  const role = { ...chunk('', 0), choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] };
  const n = contents.length;
  const final = {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [],
    usage: usage(n),
    metrics: { queue_time_ms: 7, time_to_first_token_ms: 11 },
  };
  const body = contents.map((c, i) => chunk(c, i + 1));
  return [
    role,
    ...body,
    ...(error ? [{ error: { message: 'engine "usage" failed', code: 500 } }] : []),
    final,
    '[DONE]',
  ];
}

type Client = { readonly usage: boolean; readonly continuousUsage: boolean };

function relayBytes(client: Client, bytes: Buffer, cuts: readonly number[]) {
  const relay = chatRelay(client, () => 1);
  let out = '';
  let from = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    out += relay.push(bytes.subarray(from, cut));
    from = cut;
  }
  out += relay.push(bytes.subarray(from)) + relay.end();
  const { metrics, ...counted } = relay.tally.result();
  return {
    seen: {
      usage: counts(counted),
      metrics,
      firstToken: relay.firstTokenAt !== undefined,
      sawDone: relay.tally.ended,
      sawError: relay.tally.failed,
    },
    data: clientData(out),
  };
}

const layoutArb: fc.Arbitrary<Layout> = fc.record({
  spaced: fc.boolean(),
  pretty: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  escapes: fc.boolean(),
  dataSpace: fc.boolean(),
  newline: fc.constantFrom<Layout['newline']>('\n', '\r\n', '\r'),
  comments: fc.boolean(),
});
const contentArb = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(
    ',"usage":{"prompt_tokens":1}}',
    '"choices":[]',
    'Zürich 東京 🚀',
    '\n\n',
    '\\u0022',
    '"error"',
  ),
);
const clientArb = fc.constantFrom<Client>(
  { usage: false, continuousUsage: false },
  { usage: true, continuousUsage: false },
  { usage: true, continuousUsage: true },
);

describe('SseRelay and the upstream layout', () => {
  it('meters and relays the same for any legal serialisation and framing, cut at any byte', () => {
    fc.assert(
      fc.property(
        fc.array(contentArb, { minLength: 1, maxLength: 9 }),
        fc.boolean(),
        layoutArb,
        clientArb,
        fc.array(fc.nat(), { maxLength: 8 }),
        (contents, error, layout, client, cuts) => {
          const events = stream(contents, error);
          const canonical = Buffer.from(events.map((e) => frame(e, CANONICAL, random(1))).join(''));
          const next = random(layout.seed);
          const other = Buffer.from(events.map((e) => frame(e, layout, next)).join(''));
          const expected = relayBytes(client, canonical, []);
          const actual = relayBytes(client, other, cuts);
          expect(actual.seen).toEqual(expected.seen);
          expect(actual.seen.usage).toEqual(counts(usage(contents.length)));
          expect(actual.data).toEqual(expected.data);
          const objects = actual.data.filter(
            (d): d is Record<string, unknown> => typeof d === 'object' && d !== null,
          );
          if (!client.usage) expect(objects.some((d) => 'usage' in d)).toBe(false);
          if (!client.continuousUsage)
            expect(objects.some((d) => 'usage' in d && (d.choices as unknown[]).length > 0)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("meters a stream written with Python json.dumps' spacing", () => {
    const next = random(1);
    const spaced = { ...CANONICAL, spaced: true };
    const text = stream(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'], false)
      .map((e) => frame(e, spaced, next))
      .join('');
    const { seen, data } = relayBytes({ usage: false, continuousUsage: false }, Buffer.from(text), []);
    expect(seen.usage).toEqual(counts(usage(9)));
    expect(seen.metrics).toEqual({ queue_time_ms: 7, time_to_first_token_ms: 11 });
    expect(data.some((d) => typeof d === 'object' && d !== null && 'usage' in d)).toBe(false);
  });

  it('reads a usage key written with escapes, which the quick path cannot see', () => {
    const relay = chatRelay({ usage: false, continuousUsage: false }, () => 1);
    const first = `data: ${JSON.stringify(chunk('a', 1))}\n\n`;
    const escaped = `data: ${JSON.stringify(chunk('b', 2)).replace('"usage"', '"\\u0075sage"')}\n\n`;
    const out = relay.push(Buffer.from(first + escaped)) + relay.end();
    expect(relay.tally.result().completionTokens).toBe(2);
    expect(out.includes('sage')).toBe(false);
  });

  it('ignores a chunk whose choices are not a list instead of throwing', () => {
    const relay = chatRelay({ usage: false, continuousUsage: false }, () => 1);
    const odd = { id: 'x', choices: 'none', usage: usage(3) };
    expect(() => relay.push(Buffer.from(`data: ${JSON.stringify(odd)}\n\n`))).not.toThrow();
    expect(relay.tally.result().completionTokens).toBe(3);
  });

  it('meters an unterminated last event and takes out the usage the client did not ask for', () => {
    const relay = chatRelay({ usage: false, continuousUsage: false }, () => 1);
    const text = `data: ${JSON.stringify(chunk('a', 1))}\n\ndata: ${JSON.stringify(chunk('b', 2))}`;
    const out = relay.push(Buffer.from(text)) + relay.end();
    expect(relay.tally.result().completionTokens).toBe(2);
    expect(out.includes('usage')).toBe(false);
  });

  it.each(['\r\n', '\r'] as const)(
    'relays a stream with %j line endings cut at every byte as if it came whole',
    (newline) => {
      const layout = { ...CANONICAL, newline, comments: true };
      const next = random(7);
      const bytes = Buffer.from(
        stream(['Zürich 東京 🚀', 'b'], false)
          .map((e) => frame(e, layout, next))
          .join(''),
      );
      const client = { usage: false, continuousUsage: false };
      const expected = relayBytes(client, bytes, []);
      expect(expected.seen.usage).toEqual(counts(usage(2)));
      expect(expected.seen.sawDone).toBe(true);
      for (let cut = 1; cut < bytes.length; cut += 1)
        expect(relayBytes(client, bytes, [cut])).toEqual(expected);
    },
  );
});
