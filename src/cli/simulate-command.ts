import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isDay } from '../domain/days.js';
import { simulateDay } from '../simulator/simulate.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const SIMULATE_HELP = `Usage: chargeback simulate --date YYYY-MM-DD --out FILE [options]

Writes a seeded, deterministic day of vLLM fleet traffic as NDJSON usage and capacity events:
interactive and batch pods doing continuous batching (step times from the calibration), several
tenants, features and models, quiet nights and daytime bursts. Same options, same bytes.

Options:
  --date YYYY-MM-DD   the UTC day to simulate
  --out FILE          the NDJSON file to write (its folder is created)
  --pods N            serving replicas (default 8, at most 1000)
  --seed S            random seed (default 1)
  --requests N        about how many requests in the day (default 40000, at most 2000000, and
                      at most 250000 per pod)
  --duplicates R      fraction of events delivered twice, as Event Hubs may (default 0)
  -h, --help          this text`;

export interface SimulateOptions {
  readonly date: string;
  readonly out: string;
  readonly pods: number;
  readonly seed: number;
  readonly requests: number;
  readonly duplicateRate: number;
}

export function parseSimulateArgs(args: readonly string[]): SimulateOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    date: { type: 'string' },
    out: { type: 'string' },
    pods: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    requests: { type: 'string', default: '40000' },
    duplicates: { type: 'string', default: '0' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const missing = ['date', 'out'].filter((name) => values[name] === undefined);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(', ')}`);
  const date = String(values.date);
  if (!isDay(date)) throw new UsageError(`--date must be a calendar day YYYY-MM-DD, got "${date}"`);
  const integer = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = String(values[name]);
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max)
      throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
    return value;
  };
  const duplicateRate = Number(values.duplicates);
  if (!(duplicateRate >= 0 && duplicateRate < 1))
    throw new UsageError('--duplicates must be a fraction in [0, 1)');
  const pods = integer('pods', 1, MAX_PODS);
  const requests = integer('requests', 0, MAX_REQUESTS);
  // The simulator holds one pod's requests in memory at a time (a few hundred bytes each).
  if (requests > pods * MAX_REQUESTS_PER_POD) {
    throw new UsageError(
      `--requests ${requests} over --pods ${pods} is more than ${MAX_REQUESTS_PER_POD} requests per pod; add pods`,
    );
  }
  return { date, out: String(values.out), pods, seed: integer('seed', 0), requests, duplicateRate };
}

// Bounds that keep a run within memory and minutes; a whole real fleet-day fits well inside them.
const MAX_PODS = 1000;
const MAX_REQUESTS = 2_000_000;
const MAX_REQUESTS_PER_POD = 250_000;

/** `chargeback simulate`: streams the simulated day to an NDJSON file. */
export async function runSimulate(options: SimulateOptions): Promise<{ events: number }> {
  const failed = (error: unknown): UsageError =>
    new UsageError(`cannot write --out ${options.out}: ${(error as Error).message}`);
  const existing = await stat(options.out).catch(() => undefined);
  if (existing?.isDirectory() === true)
    throw new UsageError(`--out ${options.out} is a directory; name the NDJSON file to write`);
  const partial = `${options.out}.partial`;
  try {
    await mkdir(dirname(options.out), { recursive: true });
  } catch (error) {
    throw failed(error);
  }
  let done = false;
  try {
    // Written beside the target and renamed at the end: a failed run leaves no half a day behind.
    const out = await open(partial, 'w');
    let events = 0;
    try {
      let buffer = '';
      for (const event of simulateDay({
        date: options.date,
        pods: options.pods,
        seed: options.seed,
        requests: options.requests,
        duplicateRate: options.duplicateRate,
      })) {
        buffer += `${JSON.stringify(event.json)}\n`;
        events += 1;
        if (buffer.length > 1 << 20) {
          await out.appendFile(buffer);
          buffer = '';
        }
      }
      await out.appendFile(buffer);
    } finally {
      await out.close();
    }
    await rename(partial, options.out);
    done = true;
    return { events };
  } catch (error) {
    throw error instanceof UsageError ? error : failed(error);
  } finally {
    if (!done) await rm(partial, { force: true }).catch(() => undefined);
  }
}
