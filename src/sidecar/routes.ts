/**
 * Which requests the sidecar meters, passes through or refuses: every route on which vLLM spends
 * GPU time is metered in its own usage format, the routes known to do no model work pass through,
 * and anything else is refused on a generation pod unless configured as pass-through, so that a
 * route vLLM adds in a later version cannot serve tokens unmetered.
 */

/** How a metered route's request and answer are read. */
export type Protocol =
  | 'chat' // /v1/chat/completions: OpenAI chat, continuous usage per choice
  | 'completions' // /v1/completions: several prompts, choice index = prompt x n + choice
  | 'responses' // /v1/responses: usage in response.completed
  | 'messages' // /v1/messages: Anthropic usage (input_tokens, output_tokens)
  | 'generate' // /inference/v1/generate: token ids in and out, chat-like chunks
  | 'pooling' // embeddings, pooling, classify, score, rerank: prefill only, no stream
  | 'audio'; // transcriptions and translations: multipart request, usage in seconds or none

export type Route =
  | { readonly kind: 'meter'; readonly protocol: Protocol | 'invocations' }
  | { readonly kind: 'pass' }
  | { readonly kind: 'refuse'; readonly status: number; readonly message: string };

/** The GPU routes of vLLM's OpenAI-compatible server (POST), by path. */
const METERED: ReadonlyMap<string, Protocol | 'invocations'> = new Map<string, Protocol | 'invocations'>([
  ['/v1/chat/completions', 'chat'],
  ['/v1/chat/completions/batch', 'chat'],
  ['/v1/completions', 'completions'],
  // SageMaker's entry point runs whichever handler the body fits: read the body to know which.
  ['/invocations', 'invocations'],
  ['/v1/responses', 'responses'],
  ['/v1/messages', 'messages'],
  ['/inference/v1/generate', 'generate'],
  ['/generative_scoring', 'pooling'],
  ['/v1/embeddings', 'pooling'],
  ['/v2/embed', 'pooling'],
  ['/pooling', 'pooling'],
  ['/classify', 'pooling'],
  ['/score', 'pooling'],
  ['/v1/score', 'pooling'],
  ['/rerank', 'pooling'],
  ['/v1/rerank', 'pooling'],
  ['/v2/rerank', 'pooling'],
  ['/v1/audio/transcriptions', 'audio'],
  ['/v1/audio/translations', 'audio'],
]);

/** `METHOD /path` patterns that do no model work; `{x}` matches one segment, a trailing `*` the rest. */
export const DEFAULT_PASS_THROUGH: readonly string[] = [
  'GET /health',
  'GET /health/decode',
  'GET /ping',
  'POST /ping',
  'GET /load',
  'GET /version',
  'GET /metrics',
  'GET /v1/models',
  'GET /v1/models/{model}',
  'GET /tokenizer_info',
  'POST /tokenize',
  'POST /detokenize',
  'POST /v1/messages/count_tokens',
  'POST /v1/chat/completions/render',
  'POST /v1/completions/render',
  'POST /v1/messages/render',
  'POST /v1/chat/completions/derender',
  'POST /v1/completions/derender',
  // A stored or background response read back, or cancelled: no generation (its POST was metered).
  'GET /v1/responses/{id}',
  'POST /v1/responses/{id}/cancel',
];

export interface RouteRules {
  /** Extra pass-through patterns (SIDECAR_PASS_THROUGH), beside the defaults. */
  readonly passThrough: readonly string[];
  /** Metered paths refused by configuration (SIDECAR_REFUSED_ROUTES), e.g. audio on a text pod. */
  readonly refused: readonly string[];
}

/** True for a path the sidecar meters (one SIDECAR_REFUSED_ROUTES may name). */
export function isMeteredPath(path: string): boolean {
  return METERED.has(path);
}

export const NO_ROUTE_RULES: RouteRules = { passThrough: [], refused: [] };

/** A pattern of the pass-through list, checked when the settings are read. */
export function parseRoutePattern(text: string): { method: string; segments: string[] } | { error: string } {
  const match = /^(?:([A-Z]+) )?(\/[^\s]*)$/.exec(text.trim());
  if (match === null) return { error: `"${text}" must look like "GET /path" or "/path"` };
  return { method: match[1] ?? '*', segments: (match[2] ?? '').split('/').filter((s) => s !== '') };
}

export class Router {
  private readonly patterns: { method: string; segments: string[] }[];
  private readonly refused: ReadonlySet<string>;

  constructor(rules: RouteRules = NO_ROUTE_RULES) {
    this.patterns = [];
    for (const text of [...DEFAULT_PASS_THROUGH, ...rules.passThrough]) {
      const pattern = parseRoutePattern(text);
      if ('error' in pattern) throw new Error(`pass-through route ${pattern.error}`);
      this.patterns.push(pattern);
    }
    this.refused = new Set(rules.refused);
  }

  /** What to do with a request, by its method and its path as vLLM routes it. */
  route(method: string, path: string): Route {
    const protocol = METERED.get(path);
    if (protocol !== undefined && method === 'POST') {
      if (this.refused.has(path))
        return {
          kind: 'refuse',
          status: 403,
          message: `route POST ${path} is refused on this pod by configuration`,
        };
      return { kind: 'meter', protocol };
    }
    const segments = path.split('/').filter((s) => s !== '');
    if (this.patterns.some((p) => matches(p, method, segments))) return { kind: 'pass' };
    if (protocol !== undefined)
      return { kind: 'refuse', status: 405, message: `route ${path} takes POST only` };
    return {
      kind: 'refuse',
      status: 404,
      message: `route ${method} ${path} is not metered by the sidecar; if vLLM does no model work on it, add it to SIDECAR_PASS_THROUGH`,
    };
  }
}

function matches(p: { method: string; segments: string[] }, method: string, segments: string[]): boolean {
  if (p.method !== '*' && p.method !== method && !(p.method === 'GET' && method === 'HEAD')) return false;
  const wild = p.segments.at(-1) === '*';
  const fixed = wild ? p.segments.slice(0, -1) : p.segments;
  if (wild ? segments.length < fixed.length : segments.length !== fixed.length) return false;
  return fixed.every((s, i) => (s.startsWith('{') && s.endsWith('}')) || s === segments[i]);
}

/**
 * The handler `/invocations` will run for a body, in vLLM's order of trial: chat (messages),
 * completions (prompt), then the pooling requests. Undefined when no handler would take it.
 */
export function invocationProtocol(body: Record<string, unknown>): Protocol | undefined {
  if (body.messages !== undefined) return 'chat';
  if (body.prompt !== undefined || body.prompt_embeds !== undefined) return 'completions';
  if (
    body.input !== undefined ||
    body.query !== undefined ||
    body.text_1 !== undefined ||
    body.data !== undefined
  )
    return 'pooling';
  return undefined;
}
