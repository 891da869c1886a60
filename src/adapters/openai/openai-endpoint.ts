/**
 * The harness's endpoint: an OpenAI-compatible server (vLLM behind the usage sidecar), called with
 * `POST /v1/chat/completions` or `/v1/completions`, streamed when the suite asks. Each request carries the
 * tenant, feature and request-class headers the sidecar bills by (x-tenant, x-feature,
 * x-request-class unless configured otherwise), an X-Request-Id, and `Authorization: Bearer` when
 * an API key is given. Failures are classified, never thrown: 408, 429 and 5xx, a timeout, a
 * dropped connection or a body cut short may succeed on another try; other statuses will not.
 */
import type { CaseRequest } from '../../domain/evaluation/prompt.js';
import type {
  AttemptResult,
  CompletionEndpoint,
  RequestAttribution,
} from '../../ports/completion-endpoint.js';

export interface OpenAiEndpointOptions {
  /** The server's base URL; `/v1/...` is appended unless it already ends in `/v1`. */
  readonly baseUrl: URL;
  readonly apiKey?: string;
  readonly headers?: { readonly tenant: string; readonly feature: string; readonly requestClass: string };
  readonly fetch?: typeof fetch;
}

const DEFAULT_HEADERS = { tenant: 'x-tenant', feature: 'x-feature', requestClass: 'x-request-class' };

export class OpenAiEndpoint implements CompletionEndpoint {
  private readonly fetch: typeof fetch;
  private readonly names: {
    readonly tenant: string;
    readonly feature: string;
    readonly requestClass: string;
  };

  constructor(private readonly options: OpenAiEndpointOptions) {
    this.fetch = options.fetch ?? fetch;
    this.names = options.headers ?? DEFAULT_HEADERS;
  }

  async attempt(
    request: CaseRequest,
    attribution: RequestAttribution,
    requestId: string,
    signal: AbortSignal,
  ): Promise<AttemptResult> {
    const chat = request.prompt.api === 'chat';
    const url = this.urlOf(chat ? 'chat/completions' : 'completions');
    const g = request.generation;
    const body = {
      model: request.model,
      ...(request.prompt.api === 'chat'
        ? { messages: request.prompt.messages }
        : { prompt: request.prompt.prompt }),
      temperature: g.temperature,
      max_tokens: g.max_tokens,
      ...(g.top_p === undefined ? {} : { top_p: g.top_p }),
      ...(g.stop === undefined ? {} : { stop: g.stop }),
      ...(g.seed === undefined ? {} : { seed: g.seed }),
      // vLLM sends streamed usage only when asked (contracts.md §7).
      ...(g.stream === true ? { stream: true, stream_options: { include_usage: true } } : { stream: false }),
    };
    const where = `${url.origin}${url.pathname}`;
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const response = await this.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': requestId,
          [this.names.tenant]: headerBytes(attribution.tenant),
          [this.names.feature]: headerBytes(attribution.feature),
          [this.names.requestClass]: headerBytes(attribution.requestClass),
          ...(this.options.apiKey === undefined ? {} : { authorization: `Bearer ${this.options.apiKey}` }),
        },
        body: JSON.stringify(body),
        signal,
      });
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      text = await response.text();
    } catch (error) {
      // A refused or dropped connection, a body cut short, or our own timeout: worth another try.
      return { ok: false, retryable: true, reason: `${where}: ${networkReason(error)}` };
    }
    if (status < 200 || status >= 300) {
      const retryable = status === 408 || status === 429 || status >= 500;
      const retryAfterMs = retryAfterMsOf(retryAfter, Date.now());
      return {
        ok: false,
        retryable,
        reason: `${where} answered HTTP ${status}: ${errorMessage(text)}`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    return g.stream === true ? streamedAnswerOf(text, chat, where) : answerOf(text, chat, where);
  }

  /**
   * GET /v1/models: the served models' ids and, where the server says (vLLM does), the `root` each
   * was loaded from. Throws with the reason when the list cannot be read.
   */
  async servedModels(
    timeoutMs = 10_000,
  ): Promise<readonly { readonly id: string; readonly root?: string }[]> {
    const url = this.urlOf('models');
    const where = `${url.origin}${url.pathname}`;
    const response = await this.fetch(url, {
      headers: this.options.apiKey === undefined ? {} : { authorization: `Bearer ${this.options.apiKey}` },
      signal: AbortSignal.timeout(timeoutMs),
    }).catch((error: unknown) => {
      throw new Error(`GET ${where} failed: ${networkReason(error)}`);
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`GET ${where} answered ${response.status}`);
    let data: unknown;
    try {
      data = (JSON.parse(text) as { data?: unknown }).data;
    } catch {
      throw new Error(`GET ${where} did not answer JSON`);
    }
    if (!Array.isArray(data)) throw new Error(`GET ${where} has no data list`);
    return data.flatMap((entry: unknown) => {
      const e = entry as { id?: unknown; root?: unknown } | null;
      if (typeof e?.id !== 'string') return [];
      return [{ id: e.id, ...(typeof e.root === 'string' ? { root: e.root } : {}) }];
    });
  }

  private urlOf(route: string): URL {
    const base = this.options.baseUrl.href.replace(/\/+$/, '');
    return new URL(`${base.endsWith('/v1') ? base : `${base}/v1`}/${route}`);
  }
}

/**
 * A name as the bytes of its UTF-8, one character per byte: what the sidecar decodes (a header
 * value is bytes; fetch refuses a character above U+00FF, and a tenant may be any Unicode).
 */
export function headerBytes(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

/** Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3), in ms from `nowMs`; undefined if neither. */
export function retryAfterMsOf(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The text of a 2xx answer, or why it is not one a scorer can read. */
function answerOf(text: string, chat: boolean, where: string): AttemptResult {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    // A 200 whose body is cut or garbled (a proxy, a restart mid-answer) may be whole next time.
    return { ok: false, retryable: true, reason: `${where}: the answer is not JSON (${describeBody(text)})` };
  }
  const choice = (payload as { choices?: unknown }).choices;
  const first = Array.isArray(choice) ? (choice[0] as Record<string, unknown> | undefined) : undefined;
  const content = chat ? (first?.message as { content?: unknown } | undefined)?.content : first?.text;
  if (typeof content !== 'string')
    return {
      ok: false,
      retryable: false,
      reason: `${where}: the answer has no ${chat ? 'choices[0].message.content' : 'choices[0].text'} string`,
    };
  const usage = (payload as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } }).usage;
  const finish = first?.finish_reason;
  return {
    ok: true,
    text: content,
    ...(isCount(usage?.prompt_tokens) ? { promptTokens: usage.prompt_tokens } : {}),
    ...(isCount(usage?.completion_tokens) ? { completionTokens: usage.completion_tokens } : {}),
    ...(typeof finish === 'string' ? { finishReason: finish } : {}),
  };
}

/**
 * The text of a streamed answer: the `data:` lines' deltas joined, usage from the chunk that has
 * it. A stream that stops before `data: [DONE]` (a dropped connection, a restarted pod) or carries
 * an error event is not an answer, and may be whole next time.
 */
function streamedAnswerOf(text: string, chat: boolean, where: string): AttemptResult {
  let content = '';
  let done = false;
  let usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
  let finish: unknown;
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '[DONE]') {
      done = true;
      break;
    }
    let chunk: { choices?: unknown; usage?: typeof usage | null; error?: { message?: unknown } };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      return {
        ok: false,
        retryable: true,
        reason: `${where}: a stream chunk is not JSON (${describeBody(data)})`,
      };
    }
    if (chunk.error !== undefined) {
      const message = typeof chunk.error.message === 'string' ? chunk.error.message : 'an error event';
      return { ok: false, retryable: true, reason: `${where}: the stream failed: ${message.slice(0, 300)}` };
    }
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage;
    const first = Array.isArray(chunk.choices)
      ? (chunk.choices[0] as Record<string, unknown> | undefined)
      : undefined;
    const piece = chat ? (first?.delta as { content?: unknown } | undefined)?.content : first?.text;
    if (typeof piece === 'string') content += piece;
    if (typeof first?.finish_reason === 'string') finish = first.finish_reason;
  }
  if (!done) return { ok: false, retryable: true, reason: `${where}: the stream ended before data: [DONE]` };
  return {
    ok: true,
    text: content,
    ...(isCount(usage?.prompt_tokens) ? { promptTokens: usage.prompt_tokens } : {}),
    ...(isCount(usage?.completion_tokens) ? { completionTokens: usage.completion_tokens } : {}),
    ...(typeof finish === 'string' ? { finishReason: finish } : {}),
  };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** The OpenAI error body's message when there is one, else the start of the body. */
function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not JSON: the body itself, shortened
  }
  return describeBody(text);
}

function describeBody(text: string): string {
  if (text === '') return 'empty body';
  return text.length > 120
    ? `${JSON.stringify(text.slice(0, 120))}... (${text.length} characters)`
    : JSON.stringify(text);
}

function networkReason(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'the attempt was cut off';
  const cause = e.cause?.code ?? e.cause?.message;
  return cause === undefined ? (e.message ?? String(error)) : `${e.message ?? 'fetch failed'} (${cause})`;
}
