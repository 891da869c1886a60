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
       chargeback calibrate --url URL [--samples N] [--interval SECONDS] [--json]

Step-cost constants of each model from vLLM's own Prometheus metrics: a cross-check of the ones
'chargeback report --weighting calibrated' fits from the usage events. Give successive scrapes of
a pod's /metrics (files, oldest first), or a URL to scrape N times (default 6), SECONDS apart
(default 60). Between two scrapes, the engine steps, prompt and generated tokens and the mean
inter-token latency give one equation; 3 or more intervals at different loads give the fixed step
time, the cost of a prompt token and the cost of a generated token (context included).
Exit 0 when printed (a model without enough intervals is named with the reason), 2 on bad
arguments or unreadable metrics.`;

export interface CalibrateOptions {
  readonly files: readonly string[];
  readonly url?: string;
  readonly samples: number;
  readonly intervalSeconds: number;
  readonly json: boolean;
}

export function parseCalibrateArgs(args: readonly string[]): CalibrateOptions | 'help' {
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
  const { values } = parseArgsOrThrow(rest, {
    url: { type: 'string' },
    samples: { type: 'string' },
    interval: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
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
    intervalSeconds: whole('interval', 60, 1, 3600),
    json: values.json === true,
  };
}

export async function runCalibrate(
  options: CalibrateOptions,
  fetchText: (url: string) => Promise<string> = async (url) => (await fetch(url)).text(),
): Promise<string> {
  const scrapes: Scrape[] = [];
  if (options.url !== undefined) {
    for (let i = 0; i < options.samples; i += 1) {
      if (i > 0) await sleep(options.intervalSeconds * 1000);
      let text: string;
      try {
        text = await fetchText(options.url);
      } catch (error) {
        throw new ConfigurationError(`cannot scrape ${options.url}: ${(error as Error).message}`);
      }
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
      scrapes.push(readable(text, file));
    }
  }
  const fits = fitScrapes(scrapes);
  return options.json ? JSON.stringify(fits, null, 2) : render(fits);
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
      lines.push(
        `${f.model}: fixed step ${f.fixedMs.toFixed(2)} ms, prefill ${(f.prefillMsPerToken ?? 0).toFixed(4)} ms/token, ` +
          `decode ${(f.decodeMsPerToken ?? 0).toFixed(4)} ms/generated token (context included), from ${f.intervals} interval(s)`,
      );
    }
    for (const s of f.skipped) lines.push(`  skipped ${s}`);
  }
  return lines.join('\n');
}
