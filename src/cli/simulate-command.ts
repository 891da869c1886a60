import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseDay } from '../domain/timestamp.js';
import { simulateDay } from '../sim/simulate.js';
import { parseArgsOrThrow } from './report-command.js';
import { UsageError } from './usage-error.js';

export const SIMULATE_HELP = `Usage: chargeback simulate --date YYYY-MM-DD --out FILE [options]

Writes a seeded, deterministic day of vLLM fleet traffic as NDJSON usage and capacity events:
interactive and batch pods doing continuous batching (step times from the calibration), several
tenants, features and models, quiet nights and daytime bursts. Same options, same bytes.

Options:
  --date YYYY-MM-DD   the UTC day to simulate
  --out FILE          the NDJSON file to write (its folder is created)
  --pods N            serving replicas (default 8)
  --seed S            random seed (default 1)
  --requests N        about how many requests in the day (default 40000)
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
  if (parseDay(date) === undefined)
    throw new UsageError(`--date must be a calendar day YYYY-MM-DD, got "${date}"`);
  const integer = (name: string, min: number): number => {
    const value = Number(values[name]);
    if (!Number.isSafeInteger(value) || value < min)
      throw new UsageError(`--${name} must be an integer >= ${min}`);
    return value;
  };
  const duplicateRate = Number(values.duplicates);
  if (!(duplicateRate >= 0 && duplicateRate < 1))
    throw new UsageError('--duplicates must be a fraction in [0, 1)');
  return {
    date,
    out: String(values.out),
    pods: integer('pods', 1),
    seed: integer('seed', 0),
    requests: integer('requests', 0),
    duplicateRate,
  };
}

/** `chargeback simulate`: streams the simulated day to an NDJSON file. */
export async function runSimulate(options: SimulateOptions): Promise<{ events: number }> {
  await mkdir(dirname(options.out), { recursive: true });
  const out = createWriteStream(options.out);
  let events = 0;
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
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await finished(out);
  return { events };
}
