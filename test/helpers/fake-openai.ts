import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake does with one request. */
export type FakeAction =
  | { readonly answer: string; readonly delayMs?: number; readonly usage?: boolean }
  | { readonly status: number; readonly body?: string; readonly headers?: Record<string, string> }
  /** A 200 whose JSON body stops half-way (content-length honest about what is sent). */
  | { readonly truncatedJson: true }
  /** Headers promise more body than comes, then the connection drops. */
  | { readonly dropMidBody: true }
  /** Never answers (the client's timeout must end it). */
  | { readonly hang: true }
  /** An SSE answer in these pieces, a usage chunk, then [DONE]; or cut off before [DONE], or an error event. */
  | { readonly stream: readonly string[]; readonly end?: 'done' | 'cut' | 'error' };

export interface SeenCall {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
  readonly at: number;
}

/**
 * An OpenAI-compatible server on loopback written for the harness's tests: `plan` decides each
 * request from its body and how many times the same case was asked before (its X-Request-Id
 * ends in `-ATTEMPT`).
 */
export class FakeOpenAi {
  readonly calls: SeenCall[] = [];
  private server: Server | undefined;

  constructor(private readonly plan: (body: Record<string, unknown>, attempt: number) => FakeAction) {}

  async start(): Promise<URL> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        this.calls.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
        const id = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : '';
        const attempt = Number(/-(\d+)$/.exec(id)?.[1] ?? '1');
        const action = this.plan(body, attempt);
        if ('hang' in action) return;
        if ('stream' in action) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const chat = req.url === '/v1/chat/completions';
          for (const piece of action.stream) {
            const choice = chat ? { index: 0, delta: { content: piece } } : { index: 0, text: piece };
            res.write(`data: ${JSON.stringify({ choices: [choice] })}\n\n`);
          }
          if (action.end === 'cut') {
            setTimeout(() => res.destroy(), 10);
            return;
          }
          if (action.end === 'error') res.write('data: {"error":{"message":"engine died","code":500}}\n\n');
          else
            res.write(
              `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 9, completion_tokens: action.stream.length } })}\n\n`,
            );
          res.end('data: [DONE]\n\n');
          return;
        }
        if ('dropMidBody' in action) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
          res.write('{"choices":[{"message":{"content":"par');
          setTimeout(() => res.destroy(), 10);
          return;
        }
        if ('truncatedJson' in action) {
          const text = '{"choices":[{"message":{"role":"assistant","content":"half an ans';
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
          return;
        }
        if ('status' in action) {
          res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
          res.end(action.body ?? `{"error":{"message":"fake ${action.status}"}}`);
          return;
        }
        const chat = req.url === '/v1/chat/completions';
        const payload = JSON.stringify({
          id: 'fake',
          object: chat ? 'chat.completion' : 'text_completion',
          choices: [
            chat
              ? { index: 0, message: { role: 'assistant', content: action.answer }, finish_reason: 'stop' }
              : { index: 0, text: action.answer, finish_reason: 'stop' },
          ],
          ...(action.usage === false
            ? {}
            : { usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 } }),
        });
        setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          });
          res.end(payload);
        }, action.delayMs ?? 0);
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return new URL(`http://127.0.0.1:${(this.server.address() as AddressInfo).port}`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }
}

/** The last user message of a chat request (what a plan keys on). */
export function lastUserText(body: Record<string, unknown>): string {
  const messages = (body.messages ?? []) as { role: string; content: string }[];
  return (
    messages.filter((m) => m.role === 'user').at(-1)?.content ??
    (typeof body.prompt === 'string' ? body.prompt : '')
  );
}
