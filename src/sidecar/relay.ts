import { StringDecoder } from 'node:string_decoder';
import { eventData, SseSplitter } from './sse.js';

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
  choices?: { delta?: { content?: string | null; tool_calls?: unknown[] }; text?: string }[];
  usage?: Usage | null;
  metrics?: EngineMetrics;
  error?: unknown;
}

const USAGE_KEY = ',"usage":';

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

  /** At the end of the body: an unterminated last event, passed on as it came. */
  end(): string {
    return this.relay(this.decoder.end()) + this.splitter.rest();
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
    if (typeof data !== 'object' || data === null) return event;
    const chunk = data as Chunk;
    if (chunk.error !== undefined) this.sawError = true;
    if (chunk.usage != null) this.usage = chunk.usage;
    if (chunk.metrics !== undefined) this.metrics = chunk.metrics;
    const choices = chunk.choices ?? [];
    if (this.firstTokenAt === undefined) {
      const produced = choices.some(
        (c) =>
          (c.delta?.content ?? '') !== '' || (c.text ?? '') !== '' || (c.delta?.tool_calls?.length ?? 0) > 0,
      );
      if (produced || (chunk.usage?.completion_tokens ?? 0) > 0) this.firstTokenAt = this.now();
    }
    if (chunk.usage == null) return event;
    if (choices.length === 0) return this.client.usage ? event : undefined; // the final usage chunk
    if (this.client.continuousUsage) return event;
    const { usage: _usage, ...rest } = chunk;
    return `data: ${JSON.stringify(rest)}`;
  }

  /**
   * A content chunk after the first token, handled without parsing all of it: vLLM writes it as one
   * `data: {"id":...,"choices":[...],"usage":{...}}` line with usage last. Inside a JSON string a
   * quote is escaped, so an unescaped `,"usage":` is a key; taken only when what follows it is
   * exactly one object and the end of the chunk. Anything else (the final usage chunk, metrics,
   * errors, other layouts) returns undefined and takes the full parse.
   */
  private contentChunk(event: string): string | undefined {
    if (!event.startsWith('data: {"id":') || !event.endsWith('}') || event.includes('\n')) return undefined;
    if (event.includes('"choices":[]') || event.includes('"error":')) return undefined;
    const at = event.lastIndexOf(USAGE_KEY);
    if (at === -1) return event;
    let usage: unknown;
    try {
      usage = JSON.parse(event.slice(at + USAGE_KEY.length, -1));
    } catch {
      return undefined;
    }
    if (typeof usage !== 'object' || usage === null || Array.isArray(usage)) return undefined;
    this.usage = usage;
    return this.client.continuousUsage ? event : `${event.slice(0, at)}}`;
  }
}
