import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Verdict = 'pass' | 'fail' | 'drop';

/**
 * A loopback HTTP proxy in front of Azurite that can fail or cut chosen requests, so the real SDK
 * clients meet real transport failures: a 503 (which they retry) or a dropped connection.
 */
export class FaultProxy {
  rule: (request: IncomingMessage) => Verdict = () => 'pass';
  failed = 0;
  private server: Server | undefined;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<number> {
    this.server = createServer((incoming, outgoing) => {
      const verdict = this.rule(incoming);
      if (verdict !== 'pass') this.failed += 1;
      if (verdict === 'drop') {
        incoming.socket.destroy();
        return;
      }
      if (verdict === 'fail') {
        incoming.resume();
        outgoing.writeHead(503, { 'content-type': 'application/json' });
        outgoing.end('{"odata.error":{"code":"ServerBusy","message":{"value":"injected"}}}');
        return;
      }
      const upstream = request(
        {
          host: '127.0.0.1',
          port: this.targetPort,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(outgoing);
        },
      );
      upstream.on('error', () => incoming.socket.destroy());
      incoming.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
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
}

/** The Azurite connection string with its endpoints moved to other ports. */
export function throughPorts(connectionString: string, blobPort: number, tablePort: number): string {
  return connectionString
    .replace(/BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/, `BlobEndpoint=http://127.0.0.1:${blobPort}`)
    .replace(/TableEndpoint=http:\/\/127\.0\.0\.1:\d+/, `TableEndpoint=http://127.0.0.1:${tablePort}`);
}

export function portsOf(connectionString: string): { blob: number; table: number } {
  const port = (name: string): number =>
    Number(new RegExp(`${name}=http://127\\.0\\.0\\.1:(\\d+)`).exec(connectionString)?.[1]);
  return { blob: port('BlobEndpoint'), table: port('TableEndpoint') };
}
