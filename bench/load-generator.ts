/**
 * An open-loop HTTP/1.1 load generator on raw keep-alive sockets: a request every 1/rate s whatever
 * the answers, time to first body byte of each. It parses only what it must (status line, framing,
 * chunk sizes), so that on a small machine it takes as little CPU as it can from the servers it
 * measures: node:http's client cost about three times as much per streamed request.
 */
import { connect, type Socket } from 'node:net';

export interface LoadResult {
  /** Time to first body byte of each request answered 200 in full, in ms, sorted. */
  readonly ttfb: number[];
  readonly failed: number;
  readonly seconds: number;
  /** CPU the generator itself used per request, µs. */
  readonly cpuMicros: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const LF = 0x0a;

/** Reads one HTTP/1.1 response off a byte stream; `feed` returns true when the response is complete. */
export class ResponseReader {
  status = 0;
  bodyStarted = false;
  /** False when the server said `Connection: close` (nginx does after 1,000 requests on a connection). */
  keepAlive = true;
  private head: Buffer | undefined = Buffer.alloc(0);
  private mode: 'length' | 'chunked' = 'length';
  private remaining = 0;
  private chunkState: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  private line: Buffer = Buffer.alloc(0);

  feed(data: Buffer): boolean {
    let at = 0;
    if (this.head !== undefined) {
      const joined = this.head.length === 0 ? data : Buffer.concat([this.head, data]);
      const end = joined.indexOf(HEAD_END);
      if (end === -1) {
        this.head = joined;
        return false;
      }
      this.readHead(joined.subarray(0, end).toString('latin1'));
      this.head = undefined;
      data = joined.subarray(end + 4);
      if (this.mode === 'length' && this.remaining === 0) return true;
    }
    if (data.length > 0) this.bodyStarted = true;
    if (this.mode === 'length') {
      this.remaining -= data.length;
      return this.remaining <= 0;
    }
    while (at < data.length) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.remaining, data.length - at);
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) this.chunkState = 'data-crlf';
        continue;
      }
      // Lines end in CRLF; look for the LF, so that a CR and LF in different reads still end one.
      const eol = data.indexOf(LF, at);
      const piece = data.subarray(at, eol === -1 ? data.length : eol);
      this.line = this.line.length === 0 ? piece : Buffer.concat([this.line, piece]);
      if (eol === -1) return false;
      at = eol + 1;
      const line = this.line.toString('latin1').replace(/\r$/, '');
      this.line = Buffer.alloc(0);
      if (this.chunkState === 'data-crlf') {
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        this.remaining = parseInt(line, 16);
        if (!Number.isFinite(this.remaining)) throw new Error(`bad chunk size line: ${line}`);
        this.chunkState = this.remaining === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        return true; // the empty line after the last chunk (and any trailers)
      }
    }
    return false;
  }

  private readHead(head: string): void {
    this.status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    this.keepAlive = !lower.includes('\r\nconnection: close');
    if (lower.includes('\r\ntransfer-encoding: chunked')) {
      this.mode = 'chunked';
      return;
    }
    const length = /\r\ncontent-length: *(\d+)/.exec(lower);
    this.remaining = length === null ? 0 : Number(length[1]);
  }
}

/** Sends `rate` POSTs a second for `seconds` to 127.0.0.1:port. */
export async function openLoop(
  port: number,
  rate: number,
  seconds: number,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<LoadResult> {
  const head =
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
  const request = Buffer.from(`${head}\r\n${body}`);
  const idle: Socket[] = [];
  const all = new Set<Socket>();
  const ttfb: number[] = [];
  let failed = 0;
  let answered = 0;

  const once = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      let socket = idle.pop();
      while (socket?.writable === false) socket = idle.pop(); // closed by the server while idle
      socket ??= open();
      const reader = new ResponseReader();
      let done = false;
      let first = 0;
      const finish = (ok: boolean): void => {
        if (done) return;
        done = true;
        answered += 1;
        socket.removeListener('data', onData);
        socket.removeListener('close', onClose);
        if (ok && reader.status === 200) {
          ttfb.push(first);
          if (reader.keepAlive) idle.push(socket);
          else socket.end();
        } else {
          failed += 1;
          socket.destroy();
        }
        resolve();
      };
      const onData = (data: Buffer): void => {
        const started = reader.bodyStarted;
        let complete: boolean;
        try {
          complete = reader.feed(data);
        } catch {
          finish(false);
          return;
        }
        if (!started && reader.bodyStarted) first = performance.now() - sent;
        if (complete) finish(true);
      };
      const onClose = (): void => {
        finish(false);
      };
      socket.on('data', onData);
      socket.on('close', onClose);
      socket.write(request);
    });

  function open(): Socket {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    socket.on('error', () => undefined); // reported through 'close'
    all.add(socket);
    return socket;
  }

  const cpu = process.cpuUsage();
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i += 1) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(once());
  }
  // A request still unanswered 30 s after the last was sent is counted as failed, not waited for.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(r, 30_000)))]);
  clearTimeout(timer);
  failed += total - answered;
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  for (const s of all) s.destroy();
  ttfb.sort((a, b) => a - b);
  return { ttfb, failed, seconds: elapsed, cpuMicros: (used.user + used.system) / total };
}
