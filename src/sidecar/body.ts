import { readLabel } from '../domain/text.js';
import { invocationProtocol, type Protocol } from './routes.js';

/** The body of a metered request as the sidecar meters it, and the bytes it forwards to vLLM. */
export interface CompletionBody {
  /** The re-serialised body: vLLM receives exactly what the sidecar parsed and metered. */
  readonly payload: Buffer;
  /** How the answer is read (for /invocations, the handler the body goes to). */
  readonly protocol: Protocol;
  readonly stream: boolean;
  readonly model: string | undefined;
  /** What the client asked of a chat-style stream's usage (the sidecar asks for all of it). */
  readonly client: { readonly usage: boolean; readonly continuousUsage: boolean };
  /** Choices per prompt (`n`): a completions stream's choice index is prompt x n + choice. */
  readonly choicesPerPrompt: number;
}

/** Protocols whose streams take OpenAI's `stream_options` (vLLM refuses them unless streaming). */
const STREAM_OPTIONS: ReadonlySet<Protocol> = new Set(['chat', 'completions', 'generate']);

/**
 * The vLLM priority of a request class (lower runs first under --scheduling-policy priority). A
 * configured class has its own; any other class gets the least urgent configured one, so a class
 * the client makes up cannot run ahead of configured traffic. With none configured, none is sent.
 */
export function priorityOf(
  requestClass: string,
  priorities: ReadonlyMap<string, number>,
): number | undefined {
  const own = priorities.get(requestClass);
  if (own !== undefined || priorities.size === 0) return own;
  return Math.max(...priorities.values());
}

/**
 * Deepest nesting of arrays and objects accepted. Chat requests nest a few levels (messages,
 * content parts, tool schemas); 128 leaves room for deep JSON schemas and keeps JSON.stringify's
 * recursion far from the stack limit (about 6,000 levels crashed it).
 */
export const MAX_DEPTH = 128;
/** Longest `model` accepted: it goes into every usage event, which must stay small and reportable. */
const MAX_MODEL = 256;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a completion request strictly, or says what is wrong with it (the client gets 400). vLLM's
 * Python parser is lenient where this one is not (NaN, a BOM, UTF-16, `"stream": "true"` coerced
 * to true): anything the sidecar cannot read with certainty is refused rather than forwarded, since
 * a request vLLM serves but the sidecar misreads would be served unmetered. Duplicate keys are
 * accepted: both parsers keep the last one, and the re-serialised body carries only that one.
 * Then asks vLLM for usage on every chunk (so an aborted stream still has its counts) and sets the
 * priority of the request class.
 */
export function readCompletionBody(
  raw: Buffer,
  priority: number | undefined,
  route: Protocol | 'invocations' = 'chat',
): CompletionBody | { error: string } {
  if (route === 'audio') {
    // A multipart form with the audio file: forwarded as it came. vLLM's transcription handlers
    // take no priority, and the answer (streamed or not) is read by its content type.
    return {
      payload: raw,
      protocol: 'audio',
      stream: false,
      model: undefined,
      client: { usage: true, continuousUsage: true },
      choicesPerPrompt: 1,
    };
  }
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf)
    return { error: 'request body: must be JSON without a byte order mark' };
  const depth = nestingDepth(raw);
  if (depth > MAX_DEPTH) return { error: `request body: nested deeper than ${MAX_DEPTH} levels` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(raw));
  } catch (error) {
    return { error: `request body: must be UTF-8 JSON (${(error as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { error: 'request body: must be a JSON object' };
  const body = parsed as Record<string, unknown>;
  // null is what vLLM's optional fields take as "not given"; any other non-boolean is refused.
  const flag = (value: unknown): value is boolean | null | undefined =>
    value === undefined || value === null || typeof value === 'boolean';
  if (!flag(body.stream)) return { error: 'request body: "stream" must be true or false' };
  const options = body.stream_options ?? {};
  if (typeof options !== 'object' || Array.isArray(options))
    return { error: 'request body: "stream_options" must be an object' };
  const asked = options as { include_usage?: unknown; continuous_usage_stats?: unknown };
  if (!flag(asked.include_usage) || !flag(asked.continuous_usage_stats))
    return {
      error:
        'request body: "stream_options.include_usage" and "continuous_usage_stats" must be true or false',
    };
  if (body.model !== undefined && body.model !== null) {
    if (typeof body.model !== 'string') return { error: 'request body: "model" must be a string' };
    if (body.model !== '') {
      // The model reaches every report that groups by model: the names rule of ingestion applies,
      // and vLLM is sent the NFC form that is metered.
      const checked = readLabel(body.model, MAX_MODEL);
      if ('error' in checked) return { error: `request body: "model" ${checked.error}` };
      body.model = checked.value;
    }
  }
  const model = body.model;
  const protocol = route === 'invocations' ? invocationProtocol(body) : route;
  if (protocol === undefined)
    return {
      error:
        'request body: /invocations takes a chat (messages), completions (prompt) or pooling (input) body',
    };
  const stream = body.stream === true;
  if (protocol === 'responses' && body.background === true) {
    // The answer returns at once and generation goes on unseen: its tokens would never be metered.
    return {
      error:
        'request body: "background": true is not served through the metering sidecar; stream the response instead',
    };
  }
  if (protocol === 'pooling' && body.encoding_format === 'bytes_only')
    return {
      error:
        'request body: "encoding_format": "bytes_only" answers without usage and cannot be metered; use "bytes" or "float"',
    };
  if (stream && STREAM_OPTIONS.has(protocol))
    body.stream_options = { ...asked, include_usage: true, continuous_usage_stats: true };
  // The client's own priority never reaches vLLM: the request class decides it.
  delete body.priority;
  if (priority !== undefined) body.priority = priority;
  const n = protocol === 'generate' && isRecord(body.sampling_params) ? body.sampling_params.n : body.n;
  return {
    payload: Buffer.from(JSON.stringify(body)),
    protocol,
    stream,
    model: typeof model === 'string' && model !== '' ? model : undefined,
    client: { usage: asked.include_usage === true, continuousUsage: asked.continuous_usage_stats === true },
    choicesPerPrompt: typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The deepest nesting of `[` and `{` outside strings, counted without recursion and without
 * parsing, so an over-deep body is refused before anything recursive touches it.
 */
export function nestingDepth(raw: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i += 1) {
    const b = raw[i];
    if (inString) {
      if (b === 0x5c)
        i += 1; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (b === 0x5d || b === 0x7d) {
      depth -= 1;
    }
  }
  return deepest;
}
