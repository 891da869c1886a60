/**
 * The floor for the sidecar benchmark: the sidecar's HTTP stack (node:http towards the client,
 * undici's Pool towards vLLM, the same pool settings) copying requests and responses byte for byte,
 * with no attribution, metering, SSE relay or events. What the sidecar costs above this is the
 * metering; what this costs is the runtime. Prints its port; stops on SIGTERM.
 * Run: `node dist/bench/bare-proxy.js UPSTREAM_PORT`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { UPSTREAM_POOL } from '../src/sidecar/proxy.js';

const upstream = Number(process.argv[2]);
const pool = new Pool(`http://127.0.0.1:${upstream}`, UPSTREAM_POOL);

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    pool.dispatch(
      {
        path: req.url ?? '/',
        method: req.method === 'POST' ? 'POST' : 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: chunks.length === 0 ? null : Buffer.concat(chunks),
      },
      {
        onRequestStart() {},
        onResponseStart(_controller, status, headers) {
          const type = headers['content-type'];
          res.writeHead(status, typeof type === 'string' ? { 'content-type': type } : {});
        },
        onResponseData(_controller, chunk: Buffer) {
          res.write(chunk);
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError() {
          res.destroy();
        },
      },
    );
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  void pool.close().then(() => process.exit(0));
});
