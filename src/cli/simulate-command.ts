import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDay } from '../domain/days.js';
import { simulateDay, type PodScrape } from '../simulator/simulate.js';
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
  --requests N        about how many requests in the day (default 40000, at most 40000000, and
                      at most 250000 per pod)
  --duplicates R      fraction of events delivered twice, as Event Hubs may (default 0)
  --prometheus DIR    also write each pod's vLLM Prometheus metrics as a scrape would see them
                      (steps, prompt and generated tokens, inter-token latency, per model_name),
                      DIR/<pod>/scrape-0001.prom and on, one every --scrape-interval of simulated
                      time from midnight until the day is over and the pod's last request ended;
                      DIR must be new or empty. For 'chargeback calibrate --metrics'
  --scrape-interval S seconds between scrapes (default 60, from 15 to 3600)
  -h, --help          this text`;

export interface SimulateOptions {
  readonly date: string;
  readonly out: string;
  readonly pods: number;
  readonly seed: number;
  readonly requests: number;
  readonly duplicateRate: number;
  readonly prometheus?: { readonly dir: string; readonly intervalSeconds: number };
}

export function parseSimulateArgs(args: readonly string[]): SimulateOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    date: { type: 'string' },
    out: { type: 'string' },
    pods: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    requests: { type: 'string', default: '40000' },
    duplicates: { type: 'string', default: '0' },
    prometheus: { type: 'string' },
    'scrape-interval': { type: 'string' },
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
  if (values.prometheus === undefined && values['scrape-interval'] !== undefined)
    throw new UsageError('--scrape-interval needs --prometheus DIR');
  if (values.prometheus === '') throw new UsageError('--prometheus needs a folder');
  const prometheus =
    values.prometheus === undefined
      ? {}
      : {
          prometheus: {
            dir: String(values.prometheus),
            intervalSeconds:
              values['scrape-interval'] === undefined ? 60 : integer('scrape-interval', 15, 3600),
          },
        };
  return {
    date,
    out: String(values.out),
    pods,
    seed: integer('seed', 0),
    requests,
    duplicateRate,
    ...prometheus,
  };
}

// Bounds that keep a run within memory and minutes; a whole real fleet-day fits well inside them.
const MAX_PODS = 1000;
const MAX_REQUESTS = 40_000_000;
const MAX_REQUESTS_PER_POD = 250_000;

/** `chargeback simulate`: streams the simulated day to an NDJSON file (and scrapes to a folder). */
export async function runSimulate(options: SimulateOptions): Promise<{ events: number; scrapes: number }> {
  const failed = (error: unknown): UsageError =>
    new UsageError(`cannot write --out ${options.out}: ${(error as Error).message}`);
  const existing = await stat(options.out).catch(() => undefined);
  if (existing?.isDirectory() === true)
    throw new UsageError(`--out ${options.out} is a directory; name the NDJSON file to write`);
  const prometheus = options.prometheus;
  if (prometheus !== undefined) {
    // Scrapes of an earlier run left beside these would read as one series with a restart in it.
    const entries = await readdir(prometheus.dir).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new UsageError(`cannot use --prometheus ${prometheus.dir}: ${(error as Error).message}`);
    });
    if (entries.length > 0)
      throw new UsageError(`--prometheus ${prometheus.dir} is not empty; name a new or empty folder`);
  }
  const scrapes: PodScrape[] = [];
  let scraped = 0;
  const writeScrapes = async (): Promise<void> => {
    if (prometheus === undefined) return;
    for (const s of scrapes.splice(0)) {
      const dir = join(prometheus.dir, s.pod);
      if (s.index === 0) await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `scrape-${String(s.index + 1).padStart(4, '0')}.prom`), s.text);
      scraped += 1;
    }
  };
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
        ...(prometheus === undefined
          ? {}
          : {
              scrapes: { intervalMs: prometheus.intervalSeconds * 1000, onScrape: (s) => scrapes.push(s) },
            }),
      })) {
        buffer += `${JSON.stringify(event.json)}\n`;
        events += 1;
        if (buffer.length > 1 << 20) {
          await out.appendFile(buffer);
          buffer = '';
        }
        if (scrapes.length >= 256) await writeScrapes();
      }
      await out.appendFile(buffer);
      await writeScrapes();
    } finally {
      await out.close();
    }
    await rename(partial, options.out);
    done = true;
    return { events, scrapes: scraped };
  } catch (error) {
    throw error instanceof UsageError ? error : failed(error);
  } finally {
    if (!done) await rm(partial, { force: true }).catch(() => undefined);
  }
}
