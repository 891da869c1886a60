import { parseArgs } from 'node:util';
import { parseTimestamp } from '../domain/timestamp.js';
import { UsageError } from './usage-error.js';

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }>;

/**
 * Another spelling of an option (docs/cli.md, "Old spellings"): `from` is read as `to`. A
 * deprecated one is accepted for one release and named on stderr each time it is used; a synonym
 * (where docs/contracts.md fixes one name and the shared grammar another) is accepted silently.
 */
export interface Spelling {
  readonly from: string;
  readonly to: string;
  readonly deprecated: boolean;
}

export interface ParseExtras {
  readonly spellings?: readonly Spelling[];
  /** Where the one-line deprecation notices go (main: stderr). */
  readonly notice?: (message: string) => void;
}

/** node:util parseArgs in strict mode, its errors turned into a one-line UsageError. */
export function parseArgsOrThrow(
  args: readonly string[],
  options: OptionSpec,
  extras: ParseExtras = {},
): { values: Record<string, string | boolean | undefined> } {
  const spelled = respell(args, extras.spellings ?? [], extras.notice ?? (() => undefined));
  try {
    const { values } = parseArgs({ args: spelled, options, strict: true, allowPositionals: false });
    return { values };
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

/** The deprecation notice for an old spelling, one line (tests match it). */
export function deprecationNotice(from: string, to: string): string {
  return `warning: --${from} is deprecated and will be removed in the next release; use --${to}`;
}

/** The arguments with every other spelling turned into the option's own name. */
function respell(
  args: readonly string[],
  spellings: readonly Spelling[],
  notice: (message: string) => void,
): string[] {
  if (spellings.length === 0) return [...args];
  const out: string[] = [];
  const seen = new Map<string, string>();
  const noticed = new Set<string>();
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const match = /^--([^=]+)(=.*)?$/.exec(arg);
    const name = match?.[1];
    if (name === undefined) {
      out.push(arg);
      continue;
    }
    const spelling = spellings.find((s) => s.from === name);
    const canonical = spelling?.to ?? name;
    const earlier = seen.get(canonical);
    if (earlier !== undefined && earlier !== name)
      throw new UsageError(`give --${canonical} or --${spelling?.from ?? earlier}, not both`);
    seen.set(canonical, name);
    if (spelling === undefined) {
      out.push(arg);
      continue;
    }
    if (spelling.deprecated && !noticed.has(name)) {
      notice(deprecationNotice(spelling.from, spelling.to));
      noticed.add(name);
    }
    out.push(`--${spelling.to}${match?.[2] ?? ''}`);
    // The value after a separate `--old VALUE` is passed as it is, never respelled.
    if (match?.[2] === undefined && i + 1 < args.length && !(args[i + 1] ?? '').startsWith('--')) {
      out.push(args[i + 1] ?? '');
      i += 1;
    }
  }
  return out;
}

/**
 * `--at TIMESTAMP`: an instant, ISO 8601 with Z or an offset, as contracts.md §10 states it for `gate`
 * (docs/cli.md). Where a command took a bare day before (`fixed-cost --at YYYY-MM-DD`), that is
 * still read as the day's 00:00 UTC for one release, with a notice: microseconds since the epoch,
 * undefined when it is neither.
 */
export function instantOf(
  text: string,
  oldDay?: { readonly notice: (message: string) => void },
): number | undefined {
  if (oldDay !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const at = parseTimestamp(`${text}T00:00:00Z`);
    if (at !== undefined)
      oldDay.notice(
        `warning: --at YYYY-MM-DD is deprecated and will be removed in the next release; use --at ${text}T00:00:00Z`,
      );
    return at;
  }
  return parseTimestamp(text);
}

export const INSTANT_HELP = 'an ISO-8601 timestamp with Z or an offset';
