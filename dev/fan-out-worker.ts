/**
 * A fan-out worker process: polls a Storage queue as the Functions host's queue trigger would and
 * hands each message to the fan-out engine, running the work exported as `work` by a module named on
 * the command line (so a fake work runs now and the day's computation later). Used to see the
 * engine across processes, one of them killed, and each process's peak memory.
 *
 *   node --import tsx dev/fan-out-worker.ts --work ./my-work.mjs [options]
 *
 * Options (each also an environment variable):
 *   --connection-string  FANOUT_STORAGE_CONNECTION_STRING  Storage account (Azurite's, say)
 *   --queue              FANOUT_QUEUE        queue of fan-out messages (`<queue>-poison` beside it)
 *   --table              FANOUT_TABLE        table of job records
 *   --container          FANOUT_CONTAINER    container of plans, rounds, results and outcomes
 *   --work               FANOUT_WORK_MODULE  module exporting `work` (src/ports/fan-out.ts Work)
 *   --visibility-s       FANOUT_VISIBILITY_S a message's invisibility while handled, renewed (30)
 *   --lease-ms           FANOUT_LEASE_MS     the fan-in claim's lease (60000)
 *   --concurrency        FANOUT_CONCURRENCY  messages handled at once (1, as host.json's batchSize)
 *   --exit-when-drained  FANOUT_EXIT_WHEN_DRAINED=true: exit once the queue holds no message at all
 *
 * It stops on SIGTERM or SIGINT after the messages in hand, or once drained when asked; then it
 * prints one JSON line on stdout: {"pid", "maxRssKiB", "handled": {kind: count}, "failed"}. Logs go
 * to stderr.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient, type DequeuedMessageItem } from '@azure/storage-queue';
import { StorageFanOutStore, StorageWorkQueue } from '../src/adapters/azure-storage/storage-fan-out.js';
import type { Work } from '../src/ports/fan-out.js';
import {
  handleFanOutMessage,
  parseFanOutMessage,
  type FanOutDeps,
  type FanOutLog,
} from '../src/usecases/fan-out/fan-out.js';
import { hostQueueSettings } from './queue-delivery.js';

const OPTIONS = {
  'connection-string': 'FANOUT_STORAGE_CONNECTION_STRING',
  queue: 'FANOUT_QUEUE',
  table: 'FANOUT_TABLE',
  container: 'FANOUT_CONTAINER',
  work: 'FANOUT_WORK_MODULE',
  'visibility-s': 'FANOUT_VISIBILITY_S',
  'lease-ms': 'FANOUT_LEASE_MS',
  concurrency: 'FANOUT_CONCURRENCY',
  'exit-when-drained': 'FANOUT_EXIT_WHEN_DRAINED',
} as const;
type Option = keyof typeof OPTIONS;

const IDLE_POLL_MS = 200;

function settings(argv: readonly string[], env: NodeJS.ProcessEnv) {
  const { values } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.keys(OPTIONS).map((k) => [k, { type: k === 'exit-when-drained' ? 'boolean' : 'string' }]),
    ) as Record<Option, { type: 'string' | 'boolean' }>,
  });
  const value = (name: Option): string | undefined => {
    const given = values[name];
    return typeof given === 'string' ? given : given === true ? 'true' : env[OPTIONS[name]];
  };
  const required = (name: Option): string => {
    const v = value(name);
    if (v === undefined || v === '') throw new Error(`--${name} (or ${OPTIONS[name]}) is required`);
    return v;
  };
  const positive = (name: Option, fallback: number): number => {
    const v = Number(value(name) ?? fallback);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
    return v;
  };
  return {
    connectionString: required('connection-string'),
    queue: required('queue'),
    table: required('table'),
    container: required('container'),
    work: required('work'),
    visibilityS: positive('visibility-s', 30),
    leaseMs: positive('lease-ms', 60_000),
    concurrency: positive('concurrency', 1),
    exitWhenDrained: value('exit-when-drained') === 'true',
  };
}

async function loadWork(path: string): Promise<Work> {
  const module = (await import(pathToFileURL(resolve(path)).href)) as { work?: Work };
  if (typeof module.work?.runUnit !== 'function' || typeof module.work.fanIn !== 'function')
    throw new Error(`${path} does not export a work with runUnit and fanIn`);
  return module.work;
}

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2), process.env);
  const work = await loadWork(s.work);
  const insecure = /http:\/\/|UseDevelopmentStorage=true/.test(s.connectionString);
  const queue = new QueueClient(s.connectionString, s.queue);
  const poison = new QueueClient(s.connectionString, `${s.queue}-poison`);
  const store = new StorageFanOutStore(
    TableClient.fromConnectionString(s.connectionString, s.table, { allowInsecureConnection: insecure }),
    BlobServiceClient.fromConnectionString(s.connectionString).getContainerClient(s.container),
  );
  const deps: FanOutDeps = {
    store,
    queue: new StorageWorkQueue(queue),
    clock: () => new Date(),
    leaseMs: s.leaseMs,
  };
  const { maxDequeueCount } = hostQueueSettings();
  const say = (level: string) => (m: string) =>
    process.stderr.write(`[worker ${process.pid}] ${level} ${m}\n`);
  const log: FanOutLog = { log: say('info'), warn: say('warn'), error: say('error') };
  const handled: Record<string, number> = {};
  let failed = 0;
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.once(signal, () => {
      stop.abort();
    });

  /** Handles one message as the host does: invisible while handled, deleted when done, poisoned at last. */
  const deliver = async (item: DequeuedMessageItem): Promise<void> => {
    let receipt = item.popReceipt;
    let renewal = Promise.resolve();
    const timer = setInterval(
      () => {
        renewal = renewal.then(async () => {
          try {
            const r = await queue.updateMessage(item.messageId, receipt, undefined, s.visibilityS);
            if (r.popReceipt !== undefined) receipt = r.popReceipt;
          } catch (error) {
            log.warn(`could not keep message ${item.messageId} invisible: ${String(error)}`);
          }
        });
      },
      (s.visibilityS * 1000) / 2,
    );
    let outcome: 'done' | 'failed' = 'done';
    try {
      const text = Buffer.from(item.messageText, 'base64').toString('utf8');
      const result = await handleFanOutMessage(deps, work, parseFanOutMessage(text), log);
      handled[result.kind] = (handled[result.kind] ?? 0) + 1;
      log.log(`${result.unit === undefined ? '' : `unit ${result.unit}; `}${result.kind}: ${result.detail}`);
    } catch (error) {
      outcome = 'failed';
      failed += 1;
      log.warn(`message ${item.messageId} (try ${item.dequeueCount}) failed: ${String(error)}`);
    } finally {
      clearInterval(timer);
      await renewal;
    }
    if (outcome === 'done' || item.dequeueCount >= maxDequeueCount) {
      if (outcome === 'failed') {
        await poison.createIfNotExists();
        await poison.sendMessage(item.messageText);
      }
      await queue.deleteMessage(item.messageId, receipt);
    } else {
      await queue.updateMessage(item.messageId, receipt, undefined, 1);
    }
  };

  const inFlight = new Set<Promise<void>>();
  while (!stop.signal.aborted) {
    const room = s.concurrency - inFlight.size;
    const items =
      room > 0
        ? (await queue.receiveMessages({ numberOfMessages: room, visibilityTimeout: s.visibilityS }))
            .receivedMessageItems
        : [];
    for (const item of items) {
      const p = deliver(item).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (items.length > 0) continue;
    if (room === 0) {
      await Promise.race(inFlight);
      continue;
    }
    // Invisible messages count: a fan-in message waiting for its lease keeps the worker polling.
    if (
      inFlight.size === 0 &&
      s.exitWhenDrained &&
      ((await queue.getProperties()).approximateMessagesCount ?? 0) === 0
    )
      break;
    await Promise.race([new Promise((r) => setTimeout(r, IDLE_POLL_MS)), ...inFlight]);
  }
  await Promise.all(inFlight);
  const line = { pid: process.pid, maxRssKiB: process.resourceUsage().maxRSS, handled, failed };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`fan-out worker: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
