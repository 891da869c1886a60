import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * An HTTP/1.1 exchange over a plain socket, byte for byte as given: fetch and node:http normalise
 * request targets and refuse non-latin1 header values, which are exactly what these tests send.
 */
export function rawExchange(port: number, head: string, body: Buffer | string = ''): Promise<RawResponse> {
  const socket = openRaw(port, head);
  // write, not end: Node's server takes a half-closed socket for a client that went away.
  socket.write(body);
  return readResponse(socket);
}

/** Opens a socket and sends the request head (UTF-8 bytes, CRLF line ends, a blank line added). */
export function openRaw(port: number, head: string): Socket {
  const socket = connect(port, '127.0.0.1');
  socket.write(Buffer.from(`${head.split('\n').join('\r\n')}\r\n\r\n`, 'utf8'));
  return socket;
}

/** The whole response of a `Connection: close` exchange, chunked bodies decoded. */
export function readResponse(socket: Socket): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = text.slice(0, at).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = text.slice(at + 4);
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    // Sizes count bytes: slice the UTF-8 bytes, not the characters.
    const bytes = Buffer.from(rest.slice(eol + 2), 'utf8');
    out += bytes.subarray(0, size).toString('utf8');
    rest = bytes.subarray(size + 2).toString('utf8');
  }
}

/** A POST head for `path` with the given extra header lines. */
export function postHead(path: string, length: number | undefined, ...lines: string[]): string {
  return [
    `POST ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    'Connection: close',
    ...(length === undefined ? [] : [`Content-Length: ${length}`]),
    ...lines,
  ].join('\n');
}
