import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLoop, ResponseReader } from '../../bench/load-generator.js';

const server = createServer((req, res) => {
  if (req.url === '/chunked') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"a":1}\n\n');
    res.write('data: Zürich\r\n\r\n');
    res.end('data: [DONE]\n\n');
  } else if (req.url === '/empty') {
    res.writeHead(204).end();
  } else {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not here"}');
  }
});
let port = 0;

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.close();
});

/** The raw bytes of one response, as Node's server writes them. */
async function raw(path: string): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.end(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
  const parts: Buffer[] = [];
  for await (const part of socket) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('the benchmark load generator', () => {
  it('finds the end of a chunked and of a sized response wherever the reads are cut, and no sooner', async () => {
    for (const [path, status] of [
      ['/chunked', 200],
      ['/missing', 404],
      ['/empty', 204],
    ] as const) {
      const bytes = await raw(path);
      for (let cut = 1; cut < bytes.length; cut += 1) {
        const reader = new ResponseReader();
        expect(reader.feed(bytes.subarray(0, cut))).toBe(false);
        expect(reader.feed(bytes.subarray(cut))).toBe(true);
        expect(reader.status).toBe(status);
        expect(reader.bodyStarted).toBe(status !== 204);
      }
    }
  });

  it('counts answers other than 200 as failed and times the first body byte of the others', async () => {
    const ok = await openLoop(port, 200, 0.1, '/chunked', {}, '{}');
    expect(ok).toMatchObject({ failed: 0 });
    expect(ok.ttfb.length).toBe(20);
    const bad = await openLoop(port, 200, 0.1, '/missing', {}, '{}');
    expect(bad).toMatchObject({ failed: 20, ttfb: [] });
  });
});
