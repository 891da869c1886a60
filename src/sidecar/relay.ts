import { StringDecoder } from 'node:string_decoder';
import { StallDetector, type Stall, type StepClock } from '../domain/stalls.js';
import { eventData, SseSplitter, withData } from './sse.js';
import type { UsageTally } from './tally.js';

const USAGE_KEY = ',"usage":';
/** The start of vLLM's chunk: `data: {`, scalar fields (`"id":"...","created":1,...`), then a non-empty `choices`. */
const VLLM_HEAD =
  /^data: \{(?:"[A-Za-z_]+":(?:"(?:[^"\\]|\\.)*"|-?\d+|null|true|false),)*"choices":\[\{"index":(\d+),/;
/** Largest stream event read (characters); a larger one is relayed unread (default 8 Mi). */
export const DEFAULT_MAX_STREAM_EVENT = 8 * 1024 * 1024;

/**
 * Relays an event stream to the client event by event, and reads the metering out of it into the
 * request's tally: usage, per choice and per prompt, the per-request metrics, an error event, the
 * end marker, and when the first token came. For the chat-style protocols, whose streams the
 * sidecar asks for usage on every chunk, usage the client did not ask for is taken out: the final
 * usage chunk, and the `usage` field of content chunks. Other protocols' streams go on as they came.
 */
export class SseRelay {
  firstTokenAt: number | undefined;
  /** The stream's token arrivals, for its stalls (domain/stalls.ts); only with a pod clock. */
  private readonly detector: StallDetector | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private readonly splitter: SseSplitter;
  private readonly chatStyle: boolean;

  constructor(
    readonly tally: UsageTally,
    private readonly client: { readonly usage: boolean; readonly continuousUsage: boolean },
    private readonly now: () => number,
    maxEventChars = DEFAULT_MAX_STREAM_EVENT,
    private readonly clock?: StepClock,
  ) {
    this.splitter = new SseSplitter(maxEventChars);
    this.detector = clock === undefined ? undefined : new StallDetector();
    const p = tally.protocol;
    this.chatStyle = p === 'chat' || p === 'completions' || p === 'generate';
  }

  /** Takes a chunk of the upstream body; returns what goes on to the client now ('' for nothing). */
  push(chunk: Buffer): string {
    return this.relay(this.decoder.write(chunk));
  }

  /**
   * At the end of the body. An unterminated last event is still read (its tokens were generated)
   * and passed on without a blank line, as it came; a client's SSE parser discards it.
   */
  end(): string {
    const out = this.relay(this.decoder.end());
    const rest = this.splitter.rest();
    return rest === '' ? out : out + (this.relayEvent(rest) ?? '');
  }

  private relay(text: string): string {
    let out = '';
    for (const event of this.splitter.push(text)) {
      if (typeof event !== 'string') {
        if (event.first) this.tally.unreadEvent();
        out += event.unread;
        continue;
      }
      const kept = this.relayEvent(event);
      if (kept !== undefined) out += `${kept}\n\n`;
    }
    return out;
  }

  /** The stalls the stream showed so far (none without a pod clock). */
  get stalls(): readonly Stall[] {
    return this.detector?.stalls ?? [];
  }

  /** An event that carried output arrived now: a step of the pod for the clock, a token for the detector. */
  private arrived(): void {
    const clock = this.clock;
    if (clock === undefined || this.detector === undefined) return;
    const t = this.now();
    this.detector.token(t, clock.tick(t));
  }

  private relayEvent(event: string): string | undefined {
    if (this.chatStyle && this.firstTokenAt !== undefined) {
      const fast = this.contentChunk(event);
      if (fast !== undefined) {
        this.arrived();
        return fast;
      }
    }
    const data = eventData(event);
    const produced = this.tally.observe(data, eventName(event));
    if (produced) this.arrived();
    if (produced && this.firstTokenAt === undefined) this.firstTokenAt = this.now();
    if (!this.chatStyle || !isObject(data) || !('usage' in data)) return event;
    const choices = Array.isArray(data.choices) ? data.choices : [];
    if (choices.length === 0 && data.usage != null) return this.client.usage ? event : undefined; // the final usage chunk
    if (this.client.continuousUsage) return event;
    // Written again, compactly, without usage: the client gets the same JSON value whatever the
    // upstream's layout (spacing, key order, escapes), not the same bytes.
    const { usage: _usage, ...rest } = data;
    return withData(event, JSON.stringify(rest));
  }

  /**
   * A content chunk after the first token, handled without parsing all of it. It is taken only when
   * the text proves it is vLLM's own layout; anything else returns undefined and takes the full
   * parse, so another layout costs CPU, never metering:
   * - one `data: ` line whose JSON opens with scalar fields and then `"choices":[{"index":N,`, so
   *   `choices` is a top-level key and not empty (not the final usage chunk), and N is its choice;
   * - no `\u` escape anywhere, so every key is spelled out; and `"name"` with both quotes unescaped
   *   can only be that string (inside a JSON string a quote is escaped), so a text without
   *   `"usage"`, `"error"`, `"metrics"`, a second `"choices"` or a second `"index"` has no such key
   *   in any layout, and holds one choice;
   * - usage is present, written last as `,"usage":{...}}`: the unescaped `,"` is structural, and
   *   one `}` after the object closes the top level. Its counts are the choice's own (continuous
   *   usage), which the tally keeps per choice.
   */
  private contentChunk(event: string): string | undefined {
    if (event.includes('\n') || event.includes('\r') || event.includes('\\u') || !event.endsWith('}'))
      return undefined;
    const head = VLLM_HEAD.exec(event);
    if (head === null) return undefined;
    const at = event.lastIndexOf(USAGE_KEY);
    if (at === -1) return undefined;
    const rest = event.slice(0, at);
    if (rest.includes('"usage"') || rest.includes('"error"') || rest.includes('"metrics"')) return undefined;
    if (rest.includes('"choices"', head[0].length) || rest.includes('"index"', head[0].length))
      return undefined;
    let usage: unknown;
    try {
      usage = JSON.parse(event.slice(at + USAGE_KEY.length, -1));
    } catch {
      return undefined;
    }
    if (!isObject(usage)) return undefined;
    // What the tally needs of the chunk: its one choice's index and its usage; output it carried
    // counts through the usage (the chunk after the first token always has its count).
    this.tally.continuous(Number(head[1]), usage);
    return this.client.continuousUsage ? event : `${rest}}`;
  }
}

/** The `event:` field of an event (Responses and Anthropic streams name their events). */
function eventName(event: string): string | undefined {
  if (!event.startsWith('event:')) return undefined;
  const end = event.search(/\r\n|\r|\n/);
  return event.slice(6, end === -1 ? undefined : end).trim();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
