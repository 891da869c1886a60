import { createServices } from '../composition/composition.js';
import { loadConfig } from '../composition/config.js';
import { sweepOrphanSegments, type SweepOutcome } from '../usecases/repair/sweep-orphans.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const SWEEP_HELP = `Usage: chargeback sweep-orphans [--older-than HOURS] [--dry-run]

Deletes orphan segments: blobs under segments/ in the ledger container that no index row commits,
left by a crash or a lost race between writing a segment and committing it. A blob is deleted only
when it is older than --older-than and the index row its name maps to, read just before, does not
name it. Storage comes from the environment, as the Function App reads it
(LEDGER_STORAGE_ACCOUNT_NAME or LEDGER_STORAGE_CONNECTION_STRING, LEDGER_TABLE, LEDGER_CONTAINER).

Options:
  --older-than HOURS  the youngest blob that may be deleted, in hours (default 24, at least 1): a
                      younger one may belong to a commit in progress
  --dry-run           list what would be deleted; delete nothing
  -h, --help          this text`;

export interface SweepCommandOptions {
  readonly olderThanHours: number;
  readonly dryRun: boolean;
}

const MAX_HOURS = 24 * 400;

export function parseSweepArgs(args: readonly string[]): SweepCommandOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    'older-than': { type: 'string', default: '24' },
    'dry-run': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const text = String(values['older-than']);
  const hours = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  // An ingestion retries a batch for minutes, and the host redelivers it for longer: under an hour,
  // a blob about to be committed could be taken for an orphan.
  if (!(hours >= 1 && hours <= MAX_HOURS))
    throw new UsageError(
      `--older-than must be a whole number of hours from 1 to ${MAX_HOURS}, got "${text}"`,
    );
  return { olderThanHours: hours, dryRun: values['dry-run'] === true };
}

/** `chargeback sweep-orphans`: the outcome, as printed. */
export async function runSweep(
  options: SweepCommandOptions,
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  const services = await createServices(loadConfig(env));
  const outcome = await sweepOrphanSegments(
    { ledger: services.ledger, now: services.now },
    { minAgeMs: options.olderThanHours * 3_600_000, dryRun: options.dryRun },
  );
  return describeSweep(outcome, options.dryRun);
}

export function describeSweep(outcome: SweepOutcome, dryRun: boolean): string {
  const verb = dryRun ? 'would delete' : 'deleted';
  return [
    ...outcome.orphans.map((o) => `${verb} ${o.name} (${o.bytes} bytes, written ${o.lastModified})`),
    ...outcome.unrecognised.map((name) => `left alone ${name}: not a segment name the ledger writes`),
    `${verb} ${outcome.orphans.length} orphan segment(s), ${outcome.orphanBytes} bytes; ` +
      `${outcome.examined} segment blob(s) examined: ${outcome.committed} committed, ` +
      `${outcome.young} too young to judge` +
      (outcome.changed > 0 ? `, ${outcome.changed} written again since listed (kept)` : ''),
  ].join('\n');
}
