/**
 * The endpoint a workload is replayed through: an OpenAI-compatible server (the sidecar in front of
 * vLLM), one POST per request with the sidecar's attribution headers (x-tenant, x-feature,
 * x-request-class unless configured otherwise), the request's X-Request-Id, and `Authorization:
 * Bearer` when a key is given. The whole answer is read, so the sidecar meters a finished request.
 * Failures are classified, never thrown; only a refused connection is marked as safe to send again.
 */
import type { ReplayRequest } from '../../domain/replay/workload.js';
import type { ReplayAnswer, ReplayEndpoint } from '../../ports/replay-endpoint.js';
import { headerBytes } from './openai-endpoint.js';

export interface AttributionHeaders {
  readonly tenant: string;
  readonly feature: string;
  readonly requestClass: string;
}

export const DEFAULT_ATTRIBUTION_HEADERS: AttributionHeaders = {
  tenant: 'x-tenant',
  feature: 'x-feature',
  requestClass: 'x-request-class',
};

export interface OpenAiReplayOptions {
  /** The server's base URL; a trailing `/v1` is not repeated. */
  readonly baseUrl: URL;
  readonly headers?: AttributionHeaders;
  readonly apiKey?: string;
  readonly fetch?: typeof fetch;
}

export class OpenAiReplayEndpoint implements ReplayEndpoint {
  private readonly fetch: typeof fetch;
  private readonly names: AttributionHeaders;
  private readonly base: string;

  constructor(private readonly options: OpenAiReplayOptions) {
    this.fetch = options.fetch ?? fetch;
    this.names = options.headers ?? DEFAULT_ATTRIBUTION_HEADERS;
    this.base = options.baseUrl.href.replace(/\/+$/, '').replace(/\/v1$/, '');
  }

  async send(request: ReplayRequest, signal: AbortSignal): Promise<ReplayAnswer> {
    const url = new URL(`${this.base}${request.path}`);
    const where = `${url.origin}${url.pathname}`;
    let status: number;
    let text: string;
    try {
      const response = await this.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': request.requestId,
          [this.names.tenant]: headerBytes(request.attribution.tenant),
          [this.names.feature]: headerBytes(request.attribution.feature),
          [this.names.requestClass]: headerBytes(request.attribution.requestClass),
          ...(this.options.apiKey === undefined ? {} : { authorization: `Bearer ${this.options.apiKey}` }),
        },
        body: JSON.stringify(request.body),
        signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      return networkFailure(error, where);
    }
    if (status < 200 || status >= 300)
      return { ok: false, kind: `HTTP ${status}`, detail: `${where}: ${errorMessage(text)}`, refused: false };
    let payload: { choices?: unknown; usage?: { completion_tokens?: unknown } };
    try {
      payload = JSON.parse(text) as typeof payload;
    } catch {
      return { ok: false, kind: 'not an answer', detail: `${where}: the body is not JSON`, refused: false };
    }
    if (!Array.isArray(payload.choices) || payload.choices.length === 0)
      return {
        ok: false,
        kind: 'not an answer',
        detail: `${where}: the answer has no choices`,
        refused: false,
      };
    const tokens = payload.usage?.completion_tokens;
    return {
      ok: true,
      ...(typeof tokens === 'number' && Number.isInteger(tokens) ? { completionTokens: tokens } : {}),
    };
  }
}

function networkFailure(error: unknown, where: string): ReplayAnswer {
  const e = error as { name?: string; message?: string; cause?: { code?: unknown; message?: unknown } };
  if (e.name === 'AbortError' || e.name === 'TimeoutError')
    return { ok: false, kind: 'timed out', detail: `${where}: cut off`, refused: false };
  const code = typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  // A refused connection carried no byte of the request: nothing was served or metered.
  if (code === 'ECONNREFUSED')
    return { ok: false, kind: 'connection refused', detail: `${where}: connection refused`, refused: true };
  const detail = typeof e.cause?.message === 'string' ? e.cause.message : (e.message ?? String(error));
  return { ok: false, kind: code ?? 'network error', detail: `${where}: ${detail}`, refused: false };
}

/** The OpenAI error body's message when there is one, else the start of the body. */
function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.slice(0, 200);
  } catch {
    // not JSON: the body itself, shortened
  }
  return text === '' ? 'empty body' : JSON.stringify(text.slice(0, 120));
}
