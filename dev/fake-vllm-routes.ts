import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the fake saw of one request. */
export interface SeenRequest {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
  aborted: boolean;
  /** The most response bytes that waited in this server's memory for the peer to read (a slow reader's mark). */
  maxBuffered: number;
  /** The whole response has been handed to the socket (not necessarily read by the peer yet). */
  written: boolean;
}

/**
 * The fake vLLM's other GPU routes, each in vLLM's own wire format: the Responses API, Anthropic
 * messages, token-in token-out generate, the pooling routes and audio transcription. Controls ride
 * in the same headers as the chat routes: x-fake-tokens, x-fake-prompt-tokens, x-fake-cached-tokens,
 * x-fake-cut-after (the connection dropped after that many output events), x-fake-no-usage.
 */
type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  body: Record<string, unknown>,
  seen: SeenRequest,
) => void;

function controls(req: IncomingMessage) {
  const h = (name: string, fallback: number): number => {
    const v = req.headers[name];
    return typeof v === 'string' ? Number(v) : fallback;
  };
  return {
    tokens: h('x-fake-tokens', 4),
    prompt: h('x-fake-prompt-tokens', 12),
    cached: h('x-fake-cached-tokens', 0),
    cutAfter: h('x-fake-cut-after', -1),
    noUsage: req.headers['x-fake-no-usage'] !== undefined,
    requestId: typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : 'fake',
  };
}

function json(
  res: ServerResponse,
  payload: unknown,
  seen: SeenRequest,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(payload);
  res
    .writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    })
    .end(text);
  seen.written = true;
}

/** Writes `events` as SSE (`event:` and `data:` lines), dropping the connection after `cutAfter` of them. */
function stream(
  res: ServerResponse,
  events: [string | undefined, unknown][],
  cutAfter: number,
  seen: SeenRequest,
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i === cutAfter) {
      res.destroy();
      return;
    }
    const item = events[i];
    if (item === undefined) {
      res.end();
      seen.written = true;
      return;
    }
    const [name, data] = item;
    res.write(
      `${name === undefined ? '' : `event: ${name}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
    );
    i += 1;
    setImmediate(next);
  };
  next();
}

/** POST /v1/responses: usage only in response.completed (input_tokens, output_tokens, cached in details). */
const responses: Handler = (req, res, body, seen) => {
  const c = controls(req);
  const usage = {
    input_tokens: c.prompt,
    input_tokens_details: { cached_tokens: c.cached },
    output_tokens: c.tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: c.prompt + c.tokens,
  };
  const response = (status: string, withUsage: boolean) => ({
    id: `resp_${c.requestId}`,
    object: 'response',
    model: body.model,
    status,
    output: [],
    usage: withUsage && !c.noUsage ? usage : null,
  });
  if (body.stream !== true) {
    json(res, response('completed', true), seen);
    return;
  }
  const events: [string, unknown][] = [
    [
      'response.created',
      { type: 'response.created', sequence_number: 0, response: response('in_progress', false) },
    ],
  ];
  for (let t = 0; t < c.tokens; t += 1)
    events.push([
      'response.output_text.delta',
      {
        type: 'response.output_text.delta',
        sequence_number: t + 1,
        item_id: 'msg',
        output_index: 0,
        content_index: 0,
        delta: 'tok ',
      },
    ]);
  events.push([
    'response.completed',
    { type: 'response.completed', sequence_number: c.tokens + 1, response: response('completed', true) },
  ]);
  // x-fake-cut-after counts output deltas: the created event goes first.
  stream(res, events, c.cutAfter === -1 ? -1 : c.cutAfter + 1, seen);
};

/** POST /v1/messages: Anthropic usage; input tokens at message_start, totals at message_delta. */
const messages: Handler = (req, res, body, seen) => {
  const c = controls(req);
  if (body.stream !== true) {
    json(
      res,
      {
        id: `msg_${c.requestId}`,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [{ type: 'text', text: 'tok '.repeat(c.tokens) }],
        stop_reason: 'max_tokens',
        ...(c.noUsage ? {} : { usage: { input_tokens: c.prompt, output_tokens: c.tokens } }),
      },
      seen,
    );
    return;
  }
  const events: [string, unknown][] = [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id: 'msg',
          type: 'message',
          role: 'assistant',
          content: [],
          model: body.model,
          usage: { input_tokens: c.prompt, output_tokens: 0 },
        },
      },
    ],
    [
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ],
  ];
  for (let t = 0; t < c.tokens; t += 1)
    events.push([
      'content_block_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'tok ' } },
    ]);
  events.push(
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    [
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: 'max_tokens' },
        usage: { input_tokens: c.prompt, output_tokens: c.tokens },
      },
    ],
    ['message_stop', { type: 'message_stop' }],
  );
  stream(res, events, c.cutAfter === -1 ? -1 : c.cutAfter + 2, seen);
};

/** POST /inference/v1/generate: token ids out; `usage: null` on chunks unless continuous usage is asked. */
const generate: Handler = (req, res, body, seen) => {
  const c = controls(req);
  const usage = (n: number) => ({
    prompt_tokens: c.prompt,
    completion_tokens: n,
    total_tokens: c.prompt + n,
  });
  if (body.stream !== true) {
    json(
      res,
      {
        request_id: c.requestId,
        model: body.model,
        choices: [
          { index: 0, token_ids: Array.from({ length: c.tokens }, (_, i) => i), finish_reason: 'length' },
        ],
        usage: c.noUsage ? null : usage(c.tokens),
      },
      seen,
    );
    return;
  }
  const options = (body.stream_options ?? {}) as {
    include_usage?: boolean;
    continuous_usage_stats?: boolean;
  };
  const events: [undefined, unknown][] = [];
  // Two token ids per chunk, as a speculative decoder may give.
  for (let t = 0; t < c.tokens; t += 2) {
    const ids = t + 1 < c.tokens ? [t, t + 1] : [t];
    events.push([
      undefined,
      {
        request_id: c.requestId,
        choices: [{ index: 0, token_ids: ids, finish_reason: null }],
        usage: options.continuous_usage_stats === true && !c.noUsage ? usage(t + ids.length) : null,
      },
    ]);
  }
  if (options.include_usage === true && !c.noUsage)
    events.push([undefined, { request_id: c.requestId, choices: [], usage: usage(c.tokens) }]);
  events.push([undefined, '[DONE]']);
  stream(res, events, c.cutAfter, seen);
};

/** The pooling routes: prefill only, `usage` with prompt tokens (rerank: total tokens). */
const pooling: Handler = (req, res, body, seen) => {
  const c = controls(req);
  if (body.encoding_format === 'bytes') {
    // Binary embeddings: the usage rides in the `metadata` header.
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      metadata: JSON.stringify({ usage: { prompt_tokens: c.prompt, total_tokens: c.prompt } }),
    });
    res.end(Buffer.alloc(16));
    seen.written = true;
    return;
  }
  json(
    res,
    {
      object: 'list',
      model: body.model,
      data: [{ index: 0, embedding: [0.1, 0.2] }],
      ...(c.noUsage ? {} : { usage: { prompt_tokens: c.prompt, total_tokens: c.prompt } }),
    },
    seen,
  );
};

const rerank: Handler = (req, res, body, seen) => {
  const c = controls(req);
  json(
    res,
    {
      id: 'rerank',
      model: body.model,
      results: [{ index: 0, relevance_score: 0.9 }],
      usage: { total_tokens: c.prompt },
    },
    seen,
  );
};

/** POST /v1/audio/transcriptions: a multipart request; usage in seconds of audio, or none for translations. */
export function writeAudio(req: IncomingMessage, res: ServerResponse, seen: SeenRequest): void {
  const form = String(seen.body.multipart);
  const field = (name: string): string | undefined =>
    new RegExp(`name="${name}"\\r\\n\\r\\n([^\\r]*)`).exec(form)?.[1];
  const c = controls(req);
  if (field('stream') === 'true') {
    const events: [undefined, unknown][] = [];
    for (let t = 0; t < c.tokens; t += 1)
      events.push([
        undefined,
        {
          id: 'trsc',
          object: 'transcription.chunk',
          choices: [{ delta: { content: 'word ' }, finish_reason: null }],
        },
      ]);
    events.push([undefined, '[DONE]']);
    stream(res, events, c.cutAfter, seen);
    return;
  }
  if (field('response_format') === 'text') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('word '.repeat(c.tokens));
    seen.written = true;
    return;
  }
  const translation = seen.path.endsWith('/translations');
  json(
    res,
    { text: 'word '.repeat(c.tokens), ...(translation ? {} : { usage: { type: 'duration', seconds: 3 } }) },
    seen,
  );
}

export const OTHER_ROUTES: Readonly<Record<string, Handler>> = {
  '/v1/responses': responses,
  '/v1/messages': messages,
  '/inference/v1/generate': generate,
  '/v1/embeddings': pooling,
  '/pooling': pooling,
  '/classify': pooling,
  '/score': pooling,
  '/v1/score': pooling,
  '/rerank': rerank,
  '/v1/rerank': rerank,
  '/v2/rerank': rerank,
};
