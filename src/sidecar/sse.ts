/**
 * Server-sent events as vLLM streams them: `data: {json}\n\n` ... `data: [DONE]\n\n`. The splitter
 * hands over each complete event as soon as its blank line arrives, so relaying adds no buffering
 * beyond one event.
 */
export class SseSplitter {
  private pending = '';

  /** Feeds a chunk of the stream; returns the complete events it finished (each without its blank line). */
  push(chunk: string): string[] {
    this.pending += chunk;
    const events: string[] = [];
    for (;;) {
      const lf = this.pending.indexOf('\n\n');
      const crlf = this.pending.indexOf('\r\n\r\n');
      if (lf === -1 && crlf === -1) break;
      const useCrlf = crlf !== -1 && (lf === -1 || crlf < lf);
      const end = useCrlf ? crlf : lf;
      events.push(this.pending.slice(0, end));
      this.pending = this.pending.slice(end + (useCrlf ? 4 : 2));
    }
    return events;
  }

  /** What is left when the stream ends: an unterminated event, if any. */
  rest(): string {
    return this.pending;
  }
}

/** The JSON payload of a `data:` event, `'[DONE]'`, or undefined for comments and other fields. */
export function eventData(event: string): unknown {
  // vLLM's events are one `data: ` line each: take that path without splitting.
  if (event.startsWith('data: ') && !event.includes('\n')) return parseData(event.slice(6));
  const lines = event.split(/\r?\n/).filter((l) => l.startsWith('data:'));
  if (lines.length === 0) return undefined;
  return parseData(lines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n'));
}

function parseData(data: string): unknown {
  if (data === '[DONE]') return '[DONE]';
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}
