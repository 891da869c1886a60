/**
 * A Teams Workflows stand-in for `npm start`: an HTTP server on 127.0.0.1 that answers every post
 * with 202 and an empty body, as Workflows does (contracts.md §7), and keeps the bodies it received.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TeamsStandIn {
  /** A Workflows-like address (with a dummy signature) on the stand-in. */
  readonly url: string;
  readonly received: unknown[];
  stop(): Promise<void>;
}

export async function startTeamsStandIn(): Promise<TeamsStandIn> {
  const received: unknown[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      response.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/workflows/local/triggers/manual/paths/invoke?sig=local-demo`,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A received card in short: its title and the next few lines of text. */
export function cardInShort(body: unknown, lines = 3): string[] {
  const card = (body as { attachments?: { content?: { body?: { text?: unknown }[] } }[] }).attachments?.[0]
    ?.content;
  const texts = (card?.body ?? []).flatMap((element) =>
    typeof element.text === 'string' ? [element.text] : [],
  );
  return texts.slice(0, lines + 1);
}
