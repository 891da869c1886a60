import { StringDecoder } from 'node:string_decoder';
import { eventData, SseSplitter, withData } from './sse.js';

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}
export interface EngineMetrics {
  queue_time_ms?: number | null;
  time_to_first_token_ms?: number | null;
}

interface Chunk {
  choices?: ({ delta?: { content?: string | null; tool_calls?: unknown }; text?: string } | null)[];
  usage?: Usage | null;
  metrics?: EngineMetrics;
  error?: unknown;
}

const USAGE_KEY = ',"usage":';
/** The start of vLLM's chunk: `data: {`, scalar fields (`"id":"...","created":1,...`), then a non-empty `choices`. */
const VLLM_HEAD = /^data: \{(?:"[A-Za-z_]+":(?:"(?:[^"\\]|\\.)*"|-?\d+|null|true|false),)*"choices":\[\{/;

/**
 * Relays a vLLM event stream to the client event by event, and reads the metering out of it:
 * usage (on every chunk, because the sidecar asks for continuous usage), the per-request metrics
 * of the final chunk, an error event, `[DONE]`, and when the first token came. Usage the client
 * did not ask for is taken out: the final usage chunk, and the `usage` field of content chunks.
 */
export class SseRelay {
  usage: Usage | undefined;
  metrics: EngineMetrics | undefined;
  firstTokenAt: number | undefined;
  sawError = false;
  sawDone = false;
  private readonly decoder = new StringDecoder('utf8');
  private readonly splitter = new SseSplitter();

  constructor(
    private readonly client: { readonly usage: boolean; readonly continuousUsage: boolean },
    private readonly now: () => number,
  ) {}

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
      const kept = this.relayEvent(event);
      if (kept !== undefined) out += `${kept}\n\n`;
    }
    return out;
  }

  private relayEvent(event: string): string | undefined {
    if (this.firstTokenAt !== undefined) {
      const fast = this.contentChunk(event);
      if (fast !== undefined) return fast;
    }
    const data = eventData(event);
    if (data === '[DONE]') {
      this.sawDone = true;
      return event;
    }
    if (!isObject(data)) return event;
    const chunk = data as Chunk;
    if (chunk.error !== undefined) this.sawError = true;
    if (isObject(chunk.usage)) this.usage = chunk.usage;
    if (isObject(chunk.metrics)) this.metrics = chunk.metrics;
    // An upstream's odd shapes (choices not a list, a null choice) are read as nothing, never thrown.
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    if (this.firstTokenAt === undefined) {
      const produced = choices.some(
        (c) =>
          (c?.delta?.content ?? '') !== '' ||
          (c?.text ?? '') !== '' ||
          (Array.isArray(c?.delta?.tool_calls) && c.delta.tool_calls.length > 0),
      );
      if (produced || (chunk.usage?.completion_tokens ?? 0) > 0) this.firstTokenAt = this.now();
    }
    if (!('usage' in chunk)) return event;
    if (choices.length === 0 && chunk.usage != null) return this.client.usage ? event : undefined; // the final usage chunk
    if (this.client.continuousUsage) return event;
    // Written again, compactly, without usage: the client gets the same JSON value whatever the
    // upstream's layout (spacing, key order, escapes), not the same bytes.
    const { usage: _usage, ...rest } = chunk;
    return withData(event, JSON.stringify(rest));
  }

  /**
   * A content chunk after the first token, handled without parsing all of it. It is taken only when
   * the text proves it is vLLM's own layout; anything else returns undefined and takes the full
   * parse, so another layout costs CPU, never metering:
   * - one `data: ` line whose JSON opens with scalar fields and then `"choices":[{`, so `choices` is
   *   a top-level key and not empty (not the final usage chunk);
   * - no `\u` escape anywhere, so every key is spelled out; and `"name"` with both quotes unescaped
   *   can only be that string (inside a JSON string a quote is escaped), so a text without
   *   `"usage"`, `"error"`, `"metrics"` and a second `"choices"` has no such key in any layout;
   * - usage, if present, is written last as `,"usage":{...}}`: the unescaped `,"` is structural, and
   *   one `}` after the object closes the top level.
   */
  private contentChunk(event: string): string | undefined {
    if (event.includes('\n') || event.includes('\r') || event.includes('\\u') || !event.endsWith('}'))
      return undefined;
    const head = VLLM_HEAD.exec(event);
    if (head === null) return undefined;
    const at = event.lastIndexOf(USAGE_KEY);
    const rest = at === -1 ? event : event.slice(0, at);
    if (rest.includes('"usage"') || rest.includes('"error"') || rest.includes('"metrics"')) return undefined;
    if (rest.includes('"choices"', head[0].length)) return undefined;
    if (at === -1) return event;
    let usage: unknown;
    try {
      usage = JSON.parse(event.slice(at + USAGE_KEY.length, -1));
    } catch {
      return undefined;
    }
    if (!isObject(usage)) return undefined;
    this.usage = usage;
    return this.client.continuousUsage ? event : `${rest}}`;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
