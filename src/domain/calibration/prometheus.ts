import { PermanentError } from '../errors.js';
import { solve } from './fit.js';

/**
 * A second, independent source of step constants: vLLM's own Prometheus metrics, scraped several
 * times. Between two scrapes of one model, the counters give the engine steps
 * (`vllm:iteration_tokens_total_count`), the prompt and generated tokens, and the mean inter-token
 * latency (`vllm:inter_token_latency_seconds`, or `vllm:time_per_output_token_seconds` before it was
 * renamed): one decode step's time, seen by the sequences in it. Each interval gives
 *
 *   mean step ms = F + cp x prompt tokens per step + cd x generated tokens per step
 *
 * and intervals at different loads give F, cp and cd by least squares. Context cost is folded into
 * cd, cached prompt tokens count as prefill, and the inter-token latency is an average over tokens
 * (busy steps weigh more): cruder than the event fit, which is why it is a cross-check, not the
 * source the allocation uses.
 */
export interface Scrape {
  /** Per model_name: the counters that matter, summed over other labels. */
  readonly models: ReadonlyMap<string, Readonly<Record<Counter, number>>>;
}

const COUNTERS = {
  steps: ['vllm:iteration_tokens_total_count'],
  prompt: ['vllm:prompt_tokens_total'],
  generated: ['vllm:generation_tokens_total'],
  itlSum: ['vllm:inter_token_latency_seconds_sum', 'vllm:time_per_output_token_seconds_sum'],
  itlCount: ['vllm:inter_token_latency_seconds_count', 'vllm:time_per_output_token_seconds_count'],
} as const;
type Counter = keyof typeof COUNTERS;

// Label values are quoted and may hold any character, `}` and `,` included, with \\, \" and \n escaped.
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\})?\s+(\S+)(\s+\S+)?$/;
const MODEL_NAME = /(?:^|,)\s*model_name\s*=\s*"((?:[^"\\]|\\.)*)"/;

/** A label value as written, unescaped (the text format escapes backslash, quote and newline). */
function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Reads one text exposition; an error names the line. */
export function parseExposition(text: string, source: string): Scrape {
  const models = new Map<string, Record<Counter, number>>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = SAMPLE.exec(line);
    if (match === null)
      throw new PermanentError(`${source} line ${i + 1}: not a Prometheus sample: ${line.slice(0, 80)}`);
    const [, name = '', , labels = '', value = ''] = match;
    const counter = (Object.keys(COUNTERS) as Counter[]).find((c) =>
      (COUNTERS[c] as readonly string[]).includes(name),
    );
    if (counter === undefined) return;
    const number = Number(value);
    if (!Number.isFinite(number))
      throw new PermanentError(`${source} line ${i + 1}: ${name} is ${value}, not a number`);
    const quoted = MODEL_NAME.exec(labels)?.[1];
    const model = quoted === undefined ? '(no model_name)' : unescapeLabel(quoted);
    const entry = models.get(model) ?? { steps: 0, prompt: 0, generated: 0, itlSum: 0, itlCount: 0 };
    entry[counter] += number;
    models.set(model, entry);
  });
  return { models };
}

export interface PrometheusFit {
  readonly model: string;
  readonly fixedMs?: number;
  readonly prefillMsPerToken?: number;
  /** Per generated token, context cost included. */
  readonly decodeMsPerToken?: number;
  readonly intervals: number;
  readonly skipped: readonly string[];
  /** Standard errors of the three constants, from the residuals (4 or more intervals). */
  readonly standardErrors?: {
    readonly fixedMs: number;
    readonly prefillMsPerToken: number;
    readonly decodeMsPerToken: number;
  };
  /** Whether the constants pass the event fit's trust rules (trustedReason); `reason` says why not. */
  readonly trusted: boolean;
  readonly reason?: string;
}

/** The fewest intervals whose fit has an error estimate: 3 constants fit 3 intervals exactly. */
export const MIN_TRUSTED_INTERVALS = 4;

/**
 * Why fitted constants cannot be trusted, or undefined: the event fit's rules (calibrate.ts) on
 * what this fit has: every constant finite and positive (a step, a prompt token and a generated
 * token all cost time), and the fixed step and prefill cost known to within a quarter.
 */
export function untrustedPrometheusFit(
  c: { fixedMs: number; prefillMsPerToken: number; decodeMsPerToken: number },
  e: { fixedMs: number; prefillMsPerToken: number; decodeMsPerToken: number } | undefined,
  intervals: number,
): string | undefined {
  if (![c.fixedMs, c.prefillMsPerToken, c.decodeMsPerToken].every(Number.isFinite))
    return 'a fitted constant is not a finite number';
  if (!(c.fixedMs > 0)) return `the fitted fixed step time ${c.fixedMs.toFixed(3)} ms is not positive`;
  if (!(c.prefillMsPerToken > 0))
    return `the fitted prefill cost ${c.prefillMsPerToken.toFixed(4)} ms/token is not positive`;
  if (!(c.decodeMsPerToken > 0))
    return `the fitted decode cost ${c.decodeMsPerToken.toFixed(4)} ms/token is not positive`;
  if (e === undefined)
    return `${intervals} interval(s) fit the 3 constants exactly, with no error estimate; ${MIN_TRUSTED_INTERVALS} or more are needed`;
  const loose = (['fixedMs', 'prefillMsPerToken'] as const).find((k) => !(e[k] <= c[k] / 4));
  if (loose !== undefined)
    return `the fitted ${loose} is uncertain (standard error ${e[loose].toPrecision(2)} for ${c[loose].toPrecision(3)})`;
  return undefined;
}

/** Fits each model over the intervals between consecutive scrapes. */
export function fitScrapes(scrapes: readonly Scrape[]): PrometheusFit[] {
  const names = new Set(scrapes.flatMap((s) => [...s.models.keys()]));
  return [...names].sort().map((model) => {
    const rows: [number, number, number][] = [];
    const skipped: string[] = [];
    const idle: number[] = [];
    for (let i = 1; i < scrapes.length; i += 1) {
      const a = scrapes[i - 1]?.models.get(model);
      const b = scrapes[i]?.models.get(model);
      if (a === undefined || b === undefined) continue;
      const d = (c: Counter): number => b[c] - a[c];
      if ((Object.keys(COUNTERS) as Counter[]).some((c) => d(c) < 0)) {
        skipped.push(`interval ${i}: a counter went down (vLLM restarted)`);
        continue;
      }
      if (d('steps') === 0 || d('itlCount') === 0) {
        idle.push(i);
        continue;
      }
      rows.push([
        d('prompt') / d('steps'),
        d('generated') / d('steps'),
        (d('itlSum') * 1000) / d('itlCount'),
      ]);
    }
    // Quiet intervals are common (a night of minute scrapes): one line for all of them.
    if (idle.length > 0)
      skipped.push(
        `${idle.length} interval(s) without engine steps (${idle.length <= 5 ? idle.join(', ') : `${idle.slice(0, 5).join(', ')}, ...`})`,
      );
    if (rows.length < 3)
      return {
        model,
        intervals: rows.length,
        skipped,
        trusted: false,
        reason: `${rows.length} interval(s) with engine steps; 3 or more at different loads are needed`,
      };
    const ata = Array.from({ length: 3 }, () => new Float64Array(3));
    const aty = new Float64Array(3);
    for (const [p, g, ms] of rows) {
      const x = [1, p, g];
      for (let j = 0; j < 3; j += 1) {
        aty[j] = (aty[j] ?? 0) + (x[j] ?? 0) * ms;
        for (let k = 0; k < 3; k += 1)
          (ata[j] as Float64Array)[k] = ((ata[j] as Float64Array)[k] ?? 0) + (x[j] ?? 0) * (x[k] ?? 0);
      }
    }
    const beta = solve(ata, aty);
    if (beta === undefined)
      return {
        model,
        intervals: rows.length,
        skipped,
        trusted: false,
        reason: 'the intervals are too alike (the same load every time): no fit',
      };
    const [fixedMs = 0, prefillMsPerToken = 0, decodeMsPerToken = 0] = beta;
    const constants = { fixedMs, prefillMsPerToken, decodeMsPerToken };
    const standardErrors = errorsOf(rows, ata, beta);
    const reason = untrustedPrometheusFit(constants, standardErrors, rows.length);
    return {
      model,
      ...constants,
      intervals: rows.length,
      skipped,
      ...(standardErrors === undefined ? {} : { standardErrors }),
      trusted: reason === undefined,
      ...(reason === undefined ? {} : { reason }),
    };
  });
}

/** Ordinary least squares standard errors: residual variance times the diagonal of (AᵀA)⁻¹. */
function errorsOf(
  rows: readonly [number, number, number][],
  ata: readonly Float64Array[],
  beta: readonly number[],
): { fixedMs: number; prefillMsPerToken: number; decodeMsPerToken: number } | undefined {
  if (rows.length < MIN_TRUSTED_INTERVALS) return undefined;
  let rss = 0;
  for (const [p, g, ms] of rows) {
    const r = ms - ((beta[0] ?? 0) + (beta[1] ?? 0) * p + (beta[2] ?? 0) * g);
    rss += r * r;
  }
  const variance = rss / (rows.length - 3);
  const diagonal = [0, 1, 2].map((j) => {
    const unit = new Float64Array(3);
    unit[j] = 1;
    return solve(ata, unit)?.[j] ?? Number.NaN;
  });
  const se = (j: number): number => Math.sqrt(variance * Math.max(0, diagonal[j] ?? Number.NaN));
  return { fixedMs: se(0), prefillMsPerToken: se(1), decodeMsPerToken: se(2) };
}
