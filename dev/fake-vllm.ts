import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTHER_ROUTES, writeAudio, type SeenRequest } from './fake-vllm-routes.js';

/**
 * A stand-in for vLLM's OpenAI server on loopback, close to its wire format: SSE chunks with a
 * role chunk first, usage on every chunk when `continuous_usage_stats` is asked, a final usage
 * chunk with empty `choices` and per-request `metrics` when `include_usage` is asked, then
 * `data: [DONE]`. Test controls ride in headers: x-fake-tokens, x-fake-prompt-tokens,
 * x-fake-cached-tokens, x-fake-token-padding (characters added to each token's text), x-fake-token-delay-ms,
 * x-fake-stall-after and x-fake-stall-ms (a silence of that many ms after that many tokens, as a
 * recompute preemption shows), x-fake-queue-ms, x-fake-error-after (an error event
 * mid-stream), x-fake-cut-after (the connection dropped after that many content steps; with
 * x-fake-tokens, after the last content chunk and before the usage chunk), x-fake-no-usage (no
 * usage anywhere), x-fake-not-json (a 200 answer in plain text), x-fake-answer-padding (characters
 * added to a plain answer), x-fake-event-padding (characters of logprobs in the first content
 * chunk). `n` choices and, for completions, a list of prompts are served as vLLM serves them: one
 * choice per chunk, index prompt x n + choice, continuous usage of the chunk's own choice.
 * The other GPU routes (Responses, Anthropic messages, generate, pooling, audio) are in
 * fake-vllm-routes.ts.
 */
export class FakeVllm {
  readonly seen: SeenRequest[] = [];
  private server: Server | undefined;

  async start(port = 0): Promise<URL> {
    this.server = createServer((req, res) => {
      this.handle(req, res);
    });
    this.server.keepAliveTimeout = 65_000;
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    return new URL(`http://127.0.0.1:${(this.server.address() as AddressInfo).port}`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/health') return void res.writeHead(200).end();
    if (req.method === 'GET' && path === '/v1/models') {
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"object":"list","data":[{"id":"fake-model","object":"model"}]}');
    }
    if (req.method === 'GET' && path === '/metrics') {
      return void res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('vllm:num_requests_waiting{model_name="fake-model"} 0\n');
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown>;
      if (path.startsWith('/v1/audio/')) {
        const seen = this.record(path, req, res, { multipart: Buffer.concat(chunks).toString('latin1') });
        writeAudio(req, res, seen);
        return;
      }
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end('{"error":{"message":"invalid JSON","code":400}}');
        return;
      }
      const seen = this.record(path, req, res, body);
      // SageMaker's /invocations runs the handler the body fits: chat, completions, else pooling.
      const pooled = path === '/invocations' && body.messages === undefined && body.prompt === undefined;
      const other = OTHER_ROUTES[pooled ? '/pooling' : path];
      if (other !== undefined) other(req, res, body, seen);
      else this.complete(req, res, path, body, seen);
    });
  }

  private record(
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
    body: Record<string, unknown>,
  ): SeenRequest {
    const seen: SeenRequest = {
      path,
      headers: req.headers,
      body,
      aborted: false,
      maxBuffered: 0,
      written: false,
    };
    this.seen.push(seen);
    res.on('close', () => {
      if (!res.writableFinished) seen.aborted = true;
    });
    return seen;
  }

  private complete(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Record<string, unknown>,
    seen: SeenRequest,
  ): void {
    const h = (name: string, fallback: number): number => {
      const v = req.headers[name];
      return typeof v === 'string' ? Number(v) : fallback;
    };
    const tokens = h('x-fake-tokens', typeof body.max_tokens === 'number' ? body.max_tokens : 8);
    const prompt = h('x-fake-prompt-tokens', 12);
    const cached = h('x-fake-cached-tokens', 0);
    const delay = h('x-fake-token-delay-ms', 0);
    // A recompute preemption as a client sees it: after this many tokens, a silence of stallMs.
    const stallAfter = h('x-fake-stall-after', -1);
    const stallMs = h('x-fake-stall-ms', 0);
    const queueMs = h('x-fake-queue-ms', 3);
    const piece = 'tok ' + 'x'.repeat(h('x-fake-token-padding', 0));
    const errorAfter = h('x-fake-error-after', -1);
    const cutAfter = h('x-fake-cut-after', -1);
    const noUsage = req.headers['x-fake-no-usage'] !== undefined;
    // Characters of logprobs-like padding in the first content chunk (one large event).
    const eventPadding = h('x-fake-event-padding', 0);
    const chat =
      path === '/v1/chat/completions' || path === '/invocations' || path === '/v1/chat/completions/batch';
    const n = typeof body.n === 'number' && body.n >= 1 ? body.n : 1;
    // A completions request may carry several prompts; each is a request of its own in the engine.
    const prompts =
      !chat && Array.isArray(body.prompt) && typeof body.prompt[0] === 'string' ? body.prompt.length : 1;
    const choices = n * prompts;
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-fake`;
    const requestId = req.headers['x-request-id'];
    const headers = { ...(typeof requestId === 'string' ? { 'x-request-id': requestId } : {}) };
    const usage = (promptTokens: number, completion: number) => ({
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
    });
    const finalUsage = (completion: number) => ({
      ...usage(prompt * prompts, completion),
      prompt_tokens_details: { cached_tokens: cached },
    });
    // vLLM gives per-request metrics only for one choice of one prompt.
    const metrics =
      choices === 1
        ? {
            time_to_first_token_ms: 5,
            generation_time_ms: tokens * delay + (stallAfter >= 1 && stallAfter < tokens ? stallMs : 0),
            queue_time_ms: queueMs,
            mean_itl_ms: delay,
            tokens_per_second: null,
          }
        : null;
    if (req.headers['x-fake-not-json'] !== undefined) {
      res.writeHead(200, { ...headers, 'content-type': 'text/plain' }).end('upstream says ok');
      return;
    }
    if (body.stream !== true) {
      const text = piece.repeat(tokens) + 'p'.repeat(h('x-fake-answer-padding', 0));
      const all = Array.from({ length: choices }, (_, index) =>
        chat
          ? { index, message: { role: 'assistant', content: text }, finish_reason: 'length' }
          : { index, text, finish_reason: 'length' },
      );
      const payload = JSON.stringify({
        id,
        object: chat ? 'chat.completion' : 'text_completion',
        model: body.model,
        choices: all,
        ...(noUsage ? {} : { usage: finalUsage(tokens * choices), metrics }),
      });
      setTimeout(() => {
        res
          .writeHead(200, {
            ...headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          })
          .end(payload);
      }, delay * tokens);
      return;
    }
    const options = (body.stream_options ?? {}) as {
      include_usage?: boolean;
      continuous_usage_stats?: boolean;
    };
    const continuous = options.continuous_usage_stats === true && !noUsage;
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (data: unknown): void => {
      // Like a server that ignores backpressure: what the reader does not take piles up here.
      res.write(`data: ${JSON.stringify(data)}\n\n`);
      if (res.writableLength > seen.maxBuffered) seen.maxBuffered = res.writableLength;
    };
    // Continuous usage as vLLM computes it: the chunk's own choice, and (completions) its own prompt.
    const chunk = (index: number, count: number, delta: Record<string, unknown>, extra: object = {}) => ({
      id,
      object: chat ? 'chat.completion.chunk' : 'text_completion',
      model: body.model,
      choices: [
        chat
          ? { index, delta, finish_reason: null, ...extra }
          : { index, text: delta.content ?? '', finish_reason: null, ...extra },
      ],
      ...(continuous ? { usage: usage(prompt, count) } : {}),
    });
    if (chat) for (let c = 0; c < choices; c += 1) send(chunk(c, 0, { role: 'assistant', content: '' }));
    let step = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (step === cutAfter) {
        res.destroy();
        return;
      }
      if (step === errorAfter) {
        send({
          error: { object: 'error', message: 'fake engine failure', type: 'InternalServerError', code: 500 },
        });
        res.end('data: [DONE]\n\n');
        return;
      }
      if (step < tokens) {
        step += 1;
        const padding = step === 1 && eventPadding > 0 ? { logprobs: { pad: 'l'.repeat(eventPadding) } } : {};
        for (let c = 0; c < choices; c += 1) send(chunk(c, step, { content: piece }, padding));
        const wait = delay + (step === stallAfter ? stallMs : 0);
        if (wait > 0) setTimeout(next, wait);
        else setImmediate(next);
        return;
      }
      if (options.include_usage === true && !noUsage)
        send({
          id,
          object: 'chat.completion.chunk',
          model: body.model,
          choices: [],
          usage: finalUsage(step * choices),
          metrics,
        });
      res.end('data: [DONE]\n\n');
      seen.written = true;
    };
    next();
  }
}
