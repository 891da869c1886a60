/** A request target as the upstream will route it, and the form in which the sidecar forwards it. */
export interface Target {
  /** The decoded, normalised path the routing decision is made on, e.g. `/v1/chat/completions`. */
  readonly path: string;
  /** What is sent upstream: the normalised path, percent-encoded once, and the query as it came. */
  readonly forward: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a request target the way vLLM's server routes it, so that no spelling of a metered route
 * escapes metering: uvicorn percent-decodes the whole path (`%2F` included) before Starlette
 * matches routes, and an absolute-form target (`http://host/v1/...`) is routed by its path. The
 * path is then normalised (empty and `.` segments dropped, `..` resolved, no trailing slash) and
 * forwarded in that form, so what is metered is exactly what vLLM serves: a decoded `%` goes up
 * as `%25`, and vLLM's one decoding gives back the path the sidecar decided on.
 */
export function readTarget(url: string): Target | { error: string } {
  let rest = url;
  if (!rest.startsWith('/')) {
    const absolute = /^https?:\/\/[^/?#]*/i.exec(rest);
    if (absolute === null) return { error: `request target ${clip(url)}: must be a path or an http(s) URL` };
    rest = rest.slice(absolute[0].length);
    if (!rest.startsWith('/')) rest = `/${rest}`;
  }
  const hash = rest.indexOf('#'); // a fragment is never part of what the server routes
  if (hash !== -1) rest = rest.slice(0, hash);
  const mark = rest.indexOf('?');
  const rawPath = mark === -1 ? rest : rest.slice(0, mark);
  const query = mark === -1 ? '' : rest.slice(mark);
  const decoded = decodePath(rawPath);
  if (decoded === undefined)
    return { error: `request target ${clip(url)}: the path is not valid percent-encoded UTF-8` };
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return {
    path: `/${segments.join('/')}`,
    forward: `/${segments.map(encodeURIComponent).join('/')}${query}`,
  };
}

/** Percent-decoding of every byte, strict: a `%` without two hex digits, or bytes that are not UTF-8, fail. */
function decodePath(path: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- plain ASCII needs no decoding
  if (!path.includes('%') && /^[\u0000-\u007f]*$/.test(path)) return path;
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i += 1) {
    const c = path.charCodeAt(i);
    if (c === 0x25) {
      const hex = path.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      return undefined; // Node's parser hands over raw bytes above 0x7f as latin1: not a valid target
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

const clip = (text: string): string => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
