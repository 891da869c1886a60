import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  fitScrapes,
  parseExposition,
  type PrometheusFit,
  type Scrape,
} from '../domain/calibration/prometheus.js';
import { ConfigurationError, PermanentError } from '../domain/errors.js';
import { DEFAULT_WEIGHTING } from '../domain/weighting.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const CALIBRATE_HELP = `Usage: chargeback calibrate --metrics FILE --metrics FILE ... [--json]
       chargeback calibrate --url URL [--samples N] [--scrape-interval SECONDS] [--json]

Step-cost constants of each model from vLLM's own Prometheus metrics: a cross-check of the ones
'chargeback report --weighting calibrated' fits from the usage events. Give successive scrapes of
a pod's /metrics (files, oldest first), or a URL to scrape N times (default 6), SECONDS apart
(default 60). Between two scrapes, the engine steps, prompt and generated tokens and the mean
inter-token latency give one equation; 3 or more intervals at different loads give the fixed step
time, the cost of a prompt token and the cost of a generated token (context included).
Constants are trusted as the event fit's are: each one positive, and the fixed step and prefill
cost within a quarter of their value by their standard error (so 4 or more intervals). A model
whose fit is not trusted is printed as "not trusted" with the reason, its constants for reference.
--interval is the old spelling of --scrape-interval (deprecated: still read, with a warning).
Exit status:
  0  at least one model's constants are trusted (any other model is named with its reason)
  1  nothing trustworthy came out: no vLLM samples in a scrape, no model with enough intervals,
     or no fit that passes the rules; the reason in one line on stderr
  2  bad arguments or unreadable metrics`;

export interface CalibrateOptions {
  readonly files: readonly string[];
  readonly url?: string;
  readonly samples: number;
  readonly intervalSeconds: number;
  readonly json: boolean;
}

// simulate writes scrapes every --scrape-interval: one name for the same thing (docs/cli.md).
const SPELLINGS = [{ from: 'interval', to: 'scrape-interval', deprecated: true }] as const;

export function parseCalibrateArgs(
  args: readonly string[],
  notice?: (message: string) => void,
): CalibrateOptions | 'help' {
  const files: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '--metrics') {
      const file = args[i + 1];
      if (file === undefined) throw new UsageError('--metrics needs a file');
      files.push(file);
      i += 1;
    } else rest.push(args[i] ?? '');
  }
  const { values } = parseArgsOrThrow(
    rest,
    {
      url: { type: 'string' },
      samples: { type: 'string' },
      'scrape-interval': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    { spellings: SPELLINGS, ...(notice === undefined ? {} : { notice }) },
  );
  if (values.help === true) return 'help';
  const url = typeof values.url === 'string' ? values.url : undefined;
  if ((url === undefined) === (files.length === 0))
    throw new UsageError('calibrate needs either --metrics FILE (two or more) or --url URL');
  if (url === undefined && files.length < 2)
    throw new UsageError('calibrate needs two or more --metrics scrapes');
  const whole = (name: string, fallback: number, min: number, max: number): number => {
    const value = values[name];
    if (typeof value !== 'string') return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
      throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
    return Number(value);
  };
  if (url !== undefined && !/^https?:\/\//.test(url))
    throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  return {
    files,
    ...(url === undefined ? {} : { url }),
    samples: whole('samples', 6, 2, 1000),
    intervalSeconds: whole('scrape-interval', 60, 1, 3600),
    json: values.json === true,
  };
}

/** What calibrate prints, and why nothing in it can be trusted when that is so (exit 1). */
export interface CalibrateOutcome {
  readonly text: string;
  readonly fits: readonly PrometheusFit[];
  readonly refusal?: string;
}

export async function runCalibrate(
  options: CalibrateOptions,
  fetchText: (url: string) => Promise<string> = async (url) => (await fetch(url)).text(),
): Promise<CalibrateOutcome> {
  const scrapes: Scrape[] = [];
  const sources: string[] = [];
  if (options.url !== undefined) {
    for (let i = 0; i < options.samples; i += 1) {
      if (i > 0) await sleep(options.intervalSeconds * 1000);
      let text: string;
      try {
        text = await fetchText(options.url);
      } catch (error) {
        throw new ConfigurationError(`cannot scrape ${options.url}: ${(error as Error).message}`);
      }
      sources.push(`${options.url} (scrape ${i + 1})`);
      scrapes.push(readable(text, `${options.url} (scrape ${i + 1})`));
    }
  } else {
    for (const file of options.files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new ConfigurationError(`cannot read --metrics ${file}: ${(error as Error).message}`);
      }
      sources.push(file);
      scrapes.push(readable(text, file));
    }
  }
  const fits = fitScrapes(scrapes);
  const text = options.json ? JSON.stringify(fits, null, 2) : render(fits);
  const refusal = refusalOf(scrapes, sources, fits);
  return { text, fits, ...(refusal === undefined ? {} : { refusal }) };
}

/** Why nothing trustworthy came out, or undefined when a model's constants can be used. */
function refusalOf(
  scrapes: readonly Scrape[],
  sources: readonly string[],
  fits: readonly PrometheusFit[],
): string | undefined {
  if (fits.some((f) => f.trusted)) return undefined;
  const empty = scrapes.flatMap((s, i) => (s.models.size === 0 ? [sources[i] ?? `scrape ${i + 1}`] : []));
  if (empty.length > 0)
    return `no trusted constants: ${empty.length} scrape(s) hold no vLLM samples (${empty.slice(0, 3).join(', ')}${empty.length > 3 ? ', ...' : ''})`;
  if (fits.length === 0) return 'no trusted constants: no vLLM metrics in the scrapes';
  return `no trusted constants: ${fits.map((f) => `${f.model}: ${f.reason ?? 'no fit'}`).join('; ')}`;
}

/** A scrape that cannot be read is bad input (exit 2, as the help says), not a failed computation. */
function readable(text: string, source: string): Scrape {
  try {
    return parseExposition(text, source);
  } catch (error) {
    if (error instanceof PermanentError) throw new ConfigurationError(error.message);
    throw error;
  }
}

function render(fits: readonly PrometheusFit[]): string {
  const d = DEFAULT_WEIGHTING.kind === 'step-cost' ? DEFAULT_WEIGHTING : undefined;
  const lines = [
    `configured (A100 defaults): prefill ${d?.prefillMsPerToken.toFixed(4) ?? '-'} ms/token, decode ${d?.decodeMsPerToken.toFixed(4) ?? '-'} ms/token + ${d?.decodeMsPerContextToken.toExponential(2) ?? '-'} ms per context token`,
  ];
  if (fits.length === 0)
    lines.push('no vLLM metrics found (vllm:iteration_tokens_total, vllm:prompt_tokens_total, ...)');
  for (const f of fits) {
    if (f.fixedMs === undefined) {
      lines.push(`${f.model}: no fit: ${f.reason ?? ''}`);
    } else {
      const constants =
        `fixed step ${f.fixedMs.toFixed(2)} ms, prefill ${(f.prefillMsPerToken ?? 0).toFixed(4)} ms/token, ` +
        `decode ${(f.decodeMsPerToken ?? 0).toFixed(4)} ms/generated token (context included), from ${f.intervals} interval(s)`;
      lines.push(
        f.trusted
          ? `${f.model}: ${constants}`
          : `${f.model}: not trusted: ${f.reason ?? ''} (fitted, not to be used: ${constants})`,
      );
    }
    for (const s of f.skipped) lines.push(`  skipped ${s}`);
  }
  return lines.join('\n');
}
