/**
 * Server-sent events as the SSE specification frames them: lines end with CRLF, LF or a lone CR,
 * and an empty line ends an event. vLLM writes `data: {json}\n\n` ... `data: [DONE]\n\n`, and a
 * stream with no CR takes a quick `indexOf`. The splitter hands over each complete event as soon as
 * its blank line arrives, so relaying adds no buffering beyond one event.
 */
export class SseSplitter {
  private pending = '';

  /** Feeds a chunk of the stream (`last` at its end); returns the complete events it finished (each without its blank line). */
  push(chunk: string, last = false): string[] {
    this.pending += chunk;
    const events: string[] = [];
    if (!this.pending.includes('\r')) {
      for (let end = this.pending.indexOf('\n\n'); end !== -1; end = this.pending.indexOf('\n\n')) {
        events.push(this.pending.slice(0, end));
        this.pending = this.pending.slice(end + 2);
      }
      return events;
    }
    for (;;) {
      // A line's end followed by an empty line's end. A CR alone at the end of what came so far may be
      // the first half of a CRLF: wait for the next chunk before deciding where the event ends.
      const blank = /(?:\r\n|\n|\r(?!\n))(\r\n|\n|\r)/.exec(this.pending);
      if (blank === null) break;
      const stop = blank.index + blank[0].length;
      if (blank[1] === '\r' && stop === this.pending.length && !last) break;
      events.push(this.pending.slice(0, blank.index));
      this.pending = this.pending.slice(stop);
    }
    return events;
  }

  /** What is left when the stream ends: an unterminated event, if any. */
  rest(): string {
    return this.pending;
  }
}

const LINE = /\r\n|\r|\n/;

/** The JSON payload of an event's `data` fields, `'[DONE]'`, or undefined for comments and other fields. */
export function eventData(event: string): unknown {
  // vLLM's events are one `data: ` line each: take that path without splitting.
  if (event.startsWith('data: ') && !event.includes('\n') && !event.includes('\r'))
    return parseData(event.slice(6));
  const data: string[] = [];
  for (const line of event.split(LINE)) {
    const value = dataValue(line);
    if (value !== undefined) data.push(value);
  }
  // Several data lines are one payload joined by newlines (SSE spec, "dispatch the event").
  return data.length === 0 ? undefined : parseData(data.join('\n'));
}

/**
 * The event with its data fields replaced by one `data: ` line holding `json`, where the first one
 * was; comments and the other fields (`id`, `event`, `retry`) stay as they were.
 */
export function withData(event: string, json: string): string {
  if (event.startsWith('data: ') && !event.includes('\n') && !event.includes('\r')) return `data: ${json}`;
  const lines: string[] = [];
  let placed = false;
  for (const line of event.split(LINE)) {
    if (dataValue(line) === undefined) lines.push(line);
    else if (!placed) {
      placed = true;
      lines.push(`data: ${json}`);
    }
  }
  return lines.join('\n');
}

/** The value of a `data` field line (`data: x`, `data:x`, or a bare `data`), undefined for other lines. */
function dataValue(line: string): string | undefined {
  if (line === 'data') return '';
  if (!line.startsWith('data:')) return undefined;
  return line.slice(line.startsWith('data: ') ? 6 : 5);
}

function parseData(data: string): unknown {
  if (data === '[DONE]') return '[DONE]';
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}
