import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the receiver does with one request: answer with a status (and headers, body), or hang. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface ReceivedPost {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

/**
 * A Teams Workflows stand-in on 127.0.0.1: answers each request with the next scripted answer (the
 * last one repeats), records what it received, and closes hung connections when stopped.
 */
export async function startReceiver(answers: readonly Answer[]): Promise<{
  url: (pathAndQuery: string) => string;
  received: ReceivedPost[];
  stop: () => Promise<void>;
}> {
  const received: ReceivedPost[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = answers[Math.min(received.length, answers.length - 1)] ?? { status: 202 };
      received.push({
        method: request.method ?? '',
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
      });
      if (answer === 'hang') return;
      response.writeHead(answer.status, answer.headers ?? {});
      response.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (pathAndQuery) => `http://127.0.0.1:${port}${pathAndQuery}`,
    received,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
