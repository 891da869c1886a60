import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'content-length',
  // Node's server has already answered `100-continue`; undici refuses to send the header on.
  'expect',
]);

/** The end-to-end headers of a message (RFC 9110 7.6.1): what a proxy passes on. */
export function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = typeof value === 'string' ? value : value.join(', ');
  }
  return out;
}

/**
 * Response headers to send on; `set-cookie` keeps its separate values. With `keepLength`, a
 * Content-Length goes on too (a body relayed byte for byte; a rewritten stream goes chunked).
 */
export function forwardResponseHeaders(
  headers: IncomingHttpHeaders,
  keepLength: boolean,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  const length = headers['content-length'];
  if (keepLength && typeof length === 'string') out['content-length'] = length;
  return out;
}

/** An OpenAI-style error answer; `retryAfter` (seconds) for a refusal that a retry may overcome. */
export function jsonError(res: ServerResponse, status: number, message: string, retryAfter?: number): void {
  if (res.headersSent || res.destroyed) return;
  const type = status >= 500 ? 'server_error' : 'invalid_request_error';
  const body = JSON.stringify({ error: { message, type, code: status } });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }),
  });
  res.end(body);
}

/**
 * Writes to the client; when the client reads slower than vLLM produces, pauses the upstream
 * response until the client has drained, so a slow reader cannot grow the sidecar's memory.
 */
export function writeWithBackpressure(
  res: ServerResponse,
  controller: Dispatcher.DispatchController,
  data: string | Buffer,
): void {
  if (res.destroyed) return;
  if (res.write(data) || controller.paused) return;
  controller.pause();
  res.once('drain', () => {
    controller.resume();
  });
}
