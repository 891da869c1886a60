/**
 * Reads chosen top-level fields of a JSON object as it streams past, without holding the rest.
 *
 * A plain (not streamed) answer is relayed to the client as it arrives; the sidecar needs only a
 * few of its top-level fields (`usage`, `metrics`, `status`, ...), while the answer may be tens of
 * megabytes of choices and logprobs, which a client controls (`n`, `logprobs`, `echo`). The scanner
 * looks at each byte once and keeps only the wanted fields' values, each up to `maxValueBytes`, so
 * memory per answer is bounded whatever the answer's size. JSON's structural characters are
 * ASCII, so bytes are scanned without decoding; a kept value is parsed with JSON.parse at the end.
 */
export class JsonFieldScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** At depth 1: true while the next string is a key (after `{` or `,`). */
  private expectKey = false;
  /** The raw bytes of the top-level key being read, when it is short enough to be one we want. */
  private key: number[] | undefined;
  private keyTooLong = false;
  /** The name of the wanted field whose value is being kept now. */
  private keeping: string | undefined;
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private readonly values = new Map<string, Buffer | 'too large'>();
  private started = false;
  private closed = false;
  /** A byte that cannot be JSON where it is (text before `{`, anything after the last `}`). */
  private broken = false;
  private readonly longestKey: number;

  constructor(
    private readonly wanted: ReadonlySet<string>,
    private readonly maxValueBytes = 64 * 1024,
  ) {
    this.longestKey = Math.max(0, ...[...wanted].map((w) => Buffer.byteLength(JSON.stringify(w)))) + 16;
  }

  push(chunk: Buffer): void {
    if (this.broken) return;
    let valueStart = this.keeping === undefined ? -1 : 0;
    for (let i = 0; i < chunk.length; i += 1) {
      const b = chunk[i] as number;
      if (this.inString) {
        if (this.key !== undefined && !this.keyTooLong) {
          if (this.key.length < this.longestKey) this.key.push(b);
          else this.keyTooLong = true;
        }
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
        else if (this.key === undefined || this.keyTooLong) {
          // Inside a long string, jump to the next quote or backslash.
          const q = chunk.indexOf(0x22, i + 1);
          const s = chunk.indexOf(0x5c, i + 1);
          const next = q === -1 ? s : s === -1 ? q : Math.min(q, s);
          i = (next === -1 ? chunk.length : next) - 1;
        }
        continue;
      }
      if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
      if (this.closed) {
        this.broken = true;
        return;
      }
      if (!this.started) {
        if (b !== 0x7b) {
          this.broken = true;
          return;
        }
        this.started = true;
        this.depth = 1;
        this.expectKey = true;
        continue;
      }
      if (b === 0x22) {
        this.inString = true;
        if (this.depth === 1 && this.expectKey) {
          this.key = [b];
          this.keyTooLong = false;
        }
        continue;
      }
      if (this.depth === 1 && b === 0x3a && this.key !== undefined) {
        // `key:` at the top level: keep the value that follows when the key is wanted.
        const name = this.keyTooLong ? undefined : keyName(this.key);
        this.key = undefined;
        this.expectKey = false;
        if (name !== undefined && this.wanted.has(name)) {
          this.keeping = name;
          this.kept = [];
          this.keptBytes = 0;
          valueStart = i + 1;
        }
        continue;
      }
      if (b === 0x7b || b === 0x5b) {
        this.depth += 1;
        continue;
      }
      if (b === 0x7d || b === 0x5d || (b === 0x2c && this.depth === 1)) {
        if (this.depth === 1) {
          if (this.keeping !== undefined) {
            this.keep(chunk, valueStart, i);
            this.finishValue();
            valueStart = -1;
          }
          if (b === 0x2c) this.expectKey = true;
        }
        if (b !== 0x2c) {
          this.depth -= 1;
          if (this.depth === 0) this.closed = true;
        }
      }
    }
    if (this.keeping !== undefined && valueStart !== -1) this.keep(chunk, valueStart, chunk.length);
  }

  /** True when the bytes so far were one whole JSON object (and only whitespace after it). */
  get complete(): boolean {
    return this.closed && !this.broken;
  }

  /**
   * The parsed value of a wanted field: undefined when absent (or the answer was not a JSON
   * object), 'too large' when it was over the bound, 'unreadable' when it was not JSON.
   */
  value(name: string): unknown {
    const raw = this.values.get(name);
    if (raw === undefined || this.broken) return undefined;
    if (raw === 'too large') return 'too large';
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch {
      return 'unreadable';
    }
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    if (this.keeping === undefined || to <= from) return;
    this.keptBytes += to - from;
    // A copy: a view would keep the whole chunk alive.
    if (this.keptBytes <= this.maxValueBytes) this.kept.push(Buffer.from(chunk.subarray(from, to)));
  }

  private finishValue(): void {
    const name = this.keeping as string;
    this.values.set(name, this.keptBytes > this.maxValueBytes ? 'too large' : Buffer.concat(this.kept));
    this.keeping = undefined;
    this.kept = [];
  }
}

function keyName(raw: number[]): string | undefined {
  try {
    const name: unknown = JSON.parse(Buffer.from(raw).toString('utf8'));
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}
