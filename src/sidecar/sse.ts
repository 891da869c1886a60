/**
 * Server-sent events as the SSE specification frames them: lines end with CRLF, LF or a lone CR,
 * and an empty line ends an event. vLLM writes `data: {json}\n\n` ... `data: [DONE]\n\n`. The
 * splitter hands over each complete event as soon as its blank line arrives, so relaying adds no
 * buffering beyond one event.
 *
 * Linear in the stream's length: each character is looked at once, whatever the size of the
 * chunks. An event that spans many chunks is kept as its pieces and joined once, when it ends (an
 * event of 16 MB read in 64 KB pieces was rescanned from its start at every piece: 14.6 s of CPU).
 * An event that grows past `maxEventChars` is not kept: what came of it, and the rest of it as it
 * comes, is handed over as `{ unread }` text to relay as it is, so memory per stream stays bounded
 * and the client still gets its answer; the caller counts the event as unread.
 */
export class SseSplitter {
  /** The current event's text before the current chunk. */
  private pieces: string[] = [];
  private piecesLength = 0;
  /** True when the last character seen ended a line (so the next line starts empty). */
  private atLineStart = true;
  /** True when the last character seen was a CR: an LF right after it is the same line end. */
  private afterCr = false;
  /**
   * Where, in the current event's text, the line end before the current line began; -1 while the
   * event has no complete line. An event ends there when an empty line follows.
   */
  private lastLineEnd = -1;
  /** True while the current event is over the bound: its text is passed on, not kept. */
  private skipping = false;

  constructor(private readonly maxEventChars = Number.POSITIVE_INFINITY) {}

  /** Feeds a chunk of the stream; returns the complete events it finished (each without its blank line). */
  push(chunk: string): (string | Unread)[] {
    const events: (string | Unread)[] = [];
    if (chunk === '') return events;
    let i = 0;
    if (this.afterCr && chunk.startsWith('\n')) i = 1; // the second half of a CRLF split across chunks
    this.afterCr = false;
    // Where the current event's text in `chunk` starts (its earlier text, if any, is in `pieces`).
    let start = this.pieces.length === 0 ? i : 0;
    const ends = /[\r\n]/g;
    for (;;) {
      ends.lastIndex = i;
      const found = ends.exec(chunk);
      if (found === null) break;
      const at = found.index;
      if (at > i) this.atLineStart = false;
      const crlf = chunk.charCodeAt(at) === 0x0d && chunk.charCodeAt(at + 1) === 0x0a;
      const next = at + (crlf ? 2 : 1);
      if (this.atLineStart && this.lastLineEnd !== -1) {
        // An empty line: the event is everything before the previous line's end.
        if (this.skipping) events.push({ unread: chunk.slice(start, next), first: false });
        else events.push(this.take(chunk, start, this.lastLineEnd));
        this.skipping = false;
        start = next;
        this.lastLineEnd = -1;
      } else if (this.atLineStart) {
        // An empty line before any line of the event: nothing to dispatch (SSE allows blank lines).
        start = next;
      } else {
        this.lastLineEnd = this.piecesLength + (at - start);
      }
      this.atLineStart = true;
      if (!crlf && chunk.charCodeAt(at) === 0x0d && next === chunk.length) this.afterCr = true;
      i = next;
    }
    if (i < chunk.length) this.atLineStart = false;
    if (start < chunk.length) {
      const rest = chunk.slice(start);
      if (this.skipping) {
        events.push({ unread: rest, first: false });
      } else {
        this.pieces.push(rest);
        this.piecesLength += rest.length;
        if (this.piecesLength > this.maxEventChars) {
          events.push({ unread: this.pieces.join(''), first: true });
          this.pieces = [];
          this.piecesLength = 0;
          this.skipping = true;
        }
      }
    }
    return events;
  }

  /** What is left when the stream ends: an unterminated event as it came, if any ('' for none). */
  rest(): string {
    const text = this.pieces.join('');
    this.reset();
    return text;
  }

  /** The current event: its pieces and chunk[start, end of the event's text). */
  private take(chunk: string, start: number, eventEnd: number): string {
    const inChunk = eventEnd - this.piecesLength;
    const event =
      this.pieces.length === 0
        ? chunk.slice(start, start + inChunk)
        : this.pieces.join('').slice(0, eventEnd) + (inChunk > 0 ? chunk.slice(start, start + inChunk) : '');
    this.pieces = [];
    this.piecesLength = 0;
    return event;
  }

  private reset(): void {
    this.skipping = false;
    this.pieces = [];
    this.piecesLength = 0;
    this.lastLineEnd = -1;
    this.atLineStart = true;
  }
}

/** Text of an event over the bound, to pass on as it came; `first` on the first piece of each such event. */
export interface Unread {
  readonly unread: string;
  readonly first: boolean;
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
