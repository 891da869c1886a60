import { loadConfig } from '../composition/config.js';
import { createServices, restateDeps } from '../composition/composition.js';
import type { DayMessage } from '../ports/day-queue.js';
import { requestRestatement, restateRange, RestateRequestError } from '../usecases/restate/restate.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const RESTATE_HELP = `Usage: chargeback restate --date YYYY-MM-DD [--to YYYY-MM-DD]

Restates stored daily reports: marks the day (or every day from --date to --to) dirty in the
ledger and queues one message per day for the reportDay function, which writes each day again
from the ledger with the settings and price card the Function App runs with. A day whose report
comes out the same keeps its revision. Use it after a price card correction, a late backfill or
replayed dead letters.

The storage comes from the environment, as in the Function App: LEDGER_STORAGE_ACCOUNT_NAME (with
your Azure login) or LEDGER_STORAGE_CONNECTION_STRING (Azurite), and LEDGER_TABLE, LEDGER_CONTAINER,
REPORTS_CONTAINER, RESTATE_QUEUE_NAME when they differ from the defaults.

Options:
  --date YYYY-MM-DD   the (first) day to restate; must be over (before today, UTC)
  --to YYYY-MM-DD     the last day of a range (at most 400 days)
  --refit             with WEIGHTING=calibrated in the app: fit each day's step costs anew from the
                      ledger as it is now, instead of keeping the constants stored with the day
  -h, --help          this text`;

export interface RestateOptions {
  readonly date: string;
  readonly to: string | undefined;
  readonly refit?: boolean;
}

export function parseRestateArgs(args: readonly string[]): RestateOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    date: { type: 'string' },
    to: { type: 'string' },
    refit: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  if (values.date === undefined) throw new UsageError('missing --date');
  return {
    date: String(values.date),
    to: values.to === undefined ? undefined : String(values.to),
    ...(values.refit === true ? { refit: true } : {}),
  };
}

/** `chargeback restate`: the days marked and queued, in order. */
export async function runRestate(
  options: RestateOptions,
  env: Record<string, string | undefined>,
  now: () => Date = () => new Date(),
): Promise<{ queued: DayMessage[]; queue: string }> {
  let days: string[];
  try {
    days = restateRange(options.date, options.to, now());
  } catch (error) {
    if (error instanceof RestateRequestError)
      throw new UsageError(error.message.replace(/^(date|to) /, '--$1 '));
    throw error;
  }
  const services = await createServices(loadConfig(env), now);
  return {
    queued: await requestRestatement(days, restateDeps(services), { refit: options.refit === true }),
    queue: services.config.restateQueue,
  };
}
