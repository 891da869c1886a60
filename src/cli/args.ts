import { parseArgs } from 'node:util';
import { parseTimestamp } from '../domain/timestamp.js';
import { UsageError } from './usage-error.js';

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }>;

/**
 * Another spelling of an option (docs/cli.md, "Old spellings"): `from` is read as `to`. A
 * deprecated one is accepted for one release and named on stderr each time it is used; a synonym
 * (where SPEC fixes one name and the shared grammar another) is accepted silently.
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
 * `--at`: an instant, as an ISO-8601 timestamp with Z or an offset, or a day YYYY-MM-DD meaning
 * its start, 00:00 UTC (docs/cli.md); microseconds since the epoch, undefined when it is neither.
 */
export function instantOf(text: string): number | undefined {
  return parseTimestamp(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
}

export const INSTANT_HELP = 'a day YYYY-MM-DD (its 00:00 UTC) or an ISO-8601 timestamp with Z or an offset';
