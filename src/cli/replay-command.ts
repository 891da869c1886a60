import { createServices } from '../composition/composition.js';
import { loadConfig } from '../composition/config.js';
import { parseDay } from '../domain/days.js';
import { replayDeadLetters, type ReplayOutcome } from '../usecases/repair/replay-dead-letters.js';
import { parseArgsOrThrow } from './args.js';
import { readPricesOption } from './prices-option.js';
import { UsageError } from './usage-error.js';

export const REPLAY_HELP = `Usage: chargeback replay-deadletters [--date YYYY-MM-DD [--to YYYY-MM-DD] | --from YYYY-MM-DD --to YYYY-MM-DD]
                                    [--prices FILE] [--dry-run]

Examines the ledger's dead letters again with today's price card and rules, once their cause is
fixed (a VM size added to the price card, say). Those that now pass are added to the ledger exactly
once and moved to replayed/, and the days they touch are marked for restatement by the next daily
run; those that still fail stay, with today's reason. Running it again replays nothing twice.
Storage and the price card come from the environment, as the Function App reads them
(LEDGER_STORAGE_ACCOUNT_NAME or LEDGER_STORAGE_CONNECTION_STRING, LEDGER_TABLE, LEDGER_CONTAINER,
PRICE_CARD_PATH).

Options:
  --date YYYY-MM-DD   only dead letters of messages enqueued on this UTC day (with --to: from it)
  --from, --to        only those enqueued from, to a day (inclusive; either may be left out)
  --prices FILE       the price card to examine them with (default: the Function App's, as
                      PRICE_CARD_PATH names it, else the package's prices/azure-a100.json); use the
                      card the Function App runs with, or the restated days will not price
  --dry-run           count what would be replayed; write nothing
  -h, --help          this text

Without --date, --from or --to, every dead letter is examined. --day is the old spelling of
--date (deprecated: still read for this release, with a warning).`;

export interface ReplayCommandOptions {
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly prices: string | undefined;
  readonly dryRun: boolean;
}

// Every other command names a day --date (docs/cli.md); --day is read as it for one release.
const SPELLINGS = [{ from: 'day', to: 'date', deprecated: true }] as const;

export function parseReplayArgs(
  args: readonly string[],
  notice?: (message: string) => void,
): ReplayCommandOptions | 'help' {
  const { values } = parseArgsOrThrow(
    args,
    {
      date: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      prices: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    { spellings: SPELLINGS, ...(notice === undefined ? {} : { notice }) },
  );
  if (values.help === true) return 'help';
  const day = (name: string): string | undefined => {
    const value = values[name];
    if (value === undefined) return undefined;
    const text = String(value);
    if (parseDay(text) === undefined)
      throw new UsageError(`--${name} must be a calendar day YYYY-MM-DD, got "${text}"`);
    return text;
  };
  const date = day('date');
  if (date !== undefined && values.from !== undefined)
    throw new UsageError('give --date or --from, not both');
  // --date alone is that day; --date with --to a range from it, as `chargeback restate` reads them.
  const from = date ?? day('from');
  const to = day('to') ?? date;
  if (from !== undefined && to !== undefined && from > to)
    throw new UsageError(`--from ${from} is after --to ${to}`);
  const prices = values.prices === undefined ? undefined : String(values.prices);
  return { from, to, prices, dryRun: values['dry-run'] === true };
}

/** `chargeback replay-deadletters`: the outcome, as printed. */
export async function runReplay(
  options: ReplayCommandOptions,
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  // A --prices that cannot be read is refused before storage is touched.
  const given = options.prices === undefined ? undefined : await readPricesOption(options.prices);
  const services = await createServices(loadConfig(env));
  const prices = given ?? services.prices;
  const outcome = await replayDeadLetters(
    { ledger: services.ledger, prices, now: services.now },
    { from: options.from, to: options.to, dryRun: options.dryRun },
  );
  return describeReplay(outcome, options.dryRun);
}

export function describeReplay(outcome: ReplayOutcome, dryRun: boolean): string {
  const lines = [
    `${dryRun ? 'dry run: would replay' : 'replayed'} ${outcome.replayed} dead letter(s); ` +
      `${outcome.alreadyInLedger} already in the ledger${dryRun ? '' : ', moved to replayed/'}; ` +
      `${outcome.left} still failing, left in deadletter/`,
    ...outcome.stillFailing.map((f) => `  ${String(f.count).padStart(7)}  ${f.reason}`),
  ];
  if (outcome.dirtyDays.length > 0)
    lines.push(
      `${dryRun ? 'would mark' : 'marked'} for restatement by the next daily run: ${outcome.dirtyDays.join(', ')}`,
    );
  return lines.join('\n');
}
