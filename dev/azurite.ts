import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Azurite's well-known development account (public, documented; not a secret).
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Keep data on disk here (survives a restart); in memory when absent. */
  readonly location?: string;
  readonly blobPort?: number;
  readonly tablePort?: number;
  readonly queuePort?: number;
}

export interface Azurite {
  readonly connectionString: string;
  readonly blobPort: number;
  readonly tablePort: number;
  readonly queuePort: number;
  readonly options: AzuriteOptions;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const killAll = (): void => {
  for (const child of running) child.kill('SIGKILL');
};
// Never leave an Azurite behind, whether the caller finishes, fails or is interrupted.
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/** Starts Azurite (Blob, Queue, Table) from node_modules on free loopback ports, telemetry off, and waits until it answers. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const blobPort = options.blobPort ?? (await freePort());
  const tablePort = options.tablePort ?? (await freePort());
  const queuePort = options.queuePort ?? (await freePort());
  const script = createRequire(import.meta.url).resolve('azurite/dist/src/azurite.js');
  const args = [
    script,
    '--silent',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(blobPort),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(tablePort),
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    String(queuePort),
  ];
  if (options.location === undefined) args.push('--inMemoryPersistence');
  else args.push('--location', options.location);
  // In a scratch folder, so that nothing it might write lands in the caller's working directory.
  const cwd = mkdtempSync(join(tmpdir(), 'azurite-'));
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  try {
    await Promise.race([
      Promise.all([waitForPort(blobPort), waitForPort(tablePort), waitForPort(queuePort)]),
      exited.then(() => {
        throw new Error(`azurite exited at start: ${stderr.trim()}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    running.delete(child);
    throw error;
  }
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};` +
      `BlobEndpoint=http://127.0.0.1:${blobPort}/${ACCOUNT};TableEndpoint=http://127.0.0.1:${tablePort}/${ACCOUNT};` +
      `QueueEndpoint=http://127.0.0.1:${queuePort}/${ACCOUNT};`,
    blobPort,
    tablePort,
    queuePort,
    options: { ...options, blobPort, tablePort, queuePort },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
    },
  };
}

async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`azurite did not open port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
