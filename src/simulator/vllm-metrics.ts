import type { StepSpan } from './engine.js';

/**
 * vLLM's own Prometheus counters for a simulated engine, as `chargeback calibrate` reads them
 * (src/domain/calibration/prometheus.ts), so that its fit and the event fit can be compared on one
 * simulated fleet.
 *
 * The counters move at the end of each engine step, as vLLM's do (it records an iteration's stats
 * when the step's output is processed): a scrape at time T sees every step that ended at or before
 * T and none of the step running across T. A closed-form jump over many decode steps is split at
 * the scrape exactly, step by step, not in proportion to time.
 *
 * - steps: `vllm:iteration_tokens_total_count` (one observation per engine step);
 * - `vllm:prompt_tokens_total`: the whole prompt (cached tokens included) of each request whose
 *   prefill ended, counted at the step it ended in;
 * - `vllm:generation_tokens_total`: every token made, first tokens included;
 * - `vllm:inter_token_latency_seconds`: each token after a sequence's first, the duration of the
 *   step that made it.
 *
 * The histograms are written with their `+Inf` bucket, `_sum` and `_count` only; vLLM's finer
 * buckets are left out (nothing here reads them).
 */
export class VllmCounters {
  steps = 0;
  promptTokens = 0;
  generationTokens = 0;
  /** Milliseconds; written in seconds. */
  itlSumMs = 0;
  itlCount = 0;

  /** Adds steps [from, to) of a span (0-based within it). */
  add(span: StepSpan, from: number, to: number): void {
    if (to <= from) return;
    const n = to - from;
    this.steps += n;
    if (from === 0) {
      this.promptTokens += span.promptTokens;
      this.generationTokens += span.firstTokens;
    }
    this.generationTokens += n * span.decoding;
    this.itlCount += n * span.decoding;
    this.itlSumMs += span.decoding * (elapsed(span, to) - elapsed(span, from));
  }
}

/** Duration of the first `j` steps of a span. */
function elapsed(span: StepSpan, j: number): number {
  return j * span.firstMs + (span.slopeMs * j * (j - 1)) / 2;
}

/** Number of steps of a span that have ended `gap` ms after its start (0 to span.steps). */
export function stepsEndedBy(span: StepSpan, gap: number): number {
  if (gap < span.firstMs) return 0;
  const { firstMs: first, slopeMs: slope } = span;
  let j =
    slope > 0
      ? Math.floor((-(first - slope / 2) + Math.sqrt((first - slope / 2) ** 2 + 2 * slope * gap)) / slope)
      : Math.floor(gap / first);
  j = Math.min(span.steps, Math.max(0, j));
  while (j > 0 && elapsed(span, j) > gap) j -= 1;
  while (j < span.steps && elapsed(span, j + 1) <= gap) j += 1;
  return j;
}

/**
 * Scrapes one engine's counters every `intervalMs` of simulated time, from time 0: pass `observe`
 * as the engine's onSteps, and call `finish` after the engine's last step.
 */
export class ScrapeRecorder {
  private readonly counters = new VllmCounters();
  private index = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly model: string,
    private readonly emit: (index: number, atMs: number, text: string) => void,
  ) {
    if (!(intervalMs > 0)) throw new RangeError(`scrape interval ${intervalMs} ms`);
  }

  private get nextAt(): number {
    return this.index * this.intervalMs;
  }

  private scrape(): void {
    this.emit(this.index, this.nextAt, vllmExposition(this.model, this.counters));
    this.index += 1;
  }

  readonly observe = (span: StepSpan): void => {
    while (this.nextAt < span.start) this.scrape();
    let done = 0;
    for (;;) {
      const ended = stepsEndedBy(span, this.nextAt - span.start);
      if (ended >= span.steps) break;
      this.counters.add(span, done, Math.max(done, ended));
      done = Math.max(done, ended);
      this.scrape();
    }
    this.counters.add(span, done, span.steps);
  };

  /** The remaining scrapes, until one at or after `untilMs`. */
  finish(untilMs: number): void {
    while (this.nextAt < untilMs) this.scrape();
    this.scrape();
  }
}

const HELP: readonly (readonly [string, 'counter' | 'histogram', string])[] = [
  ['vllm:iteration_tokens_total', 'histogram', 'Histogram of number of tokens per engine_step.'],
  ['vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.'],
  ['vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.'],
  ['vllm:inter_token_latency_seconds', 'histogram', 'Histogram of inter-token latency in seconds.'],
];

/** A Prometheus text exposition of the counters, with vLLM's metric names and labels. */
export function vllmExposition(model: string, c: VllmCounters): string {
  const labels = `engine="0",model_name="${model.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const value = (v: number): string => (Number.isInteger(v) ? `${v}.0` : String(v));
  const samples: Record<string, readonly [string, number][]> = {
    'vllm:iteration_tokens_total': [
      ['_bucket', c.steps],
      ['_count', c.steps],
      // vLLM observes prompt plus generation tokens of the iteration, as counted above.
      ['_sum', c.promptTokens + c.generationTokens],
    ],
    'vllm:prompt_tokens_total': [['', c.promptTokens]],
    'vllm:generation_tokens_total': [['', c.generationTokens]],
    'vllm:inter_token_latency_seconds': [
      ['_bucket', c.itlCount],
      ['_count', c.itlCount],
      ['_sum', c.itlSumMs / 1000],
    ],
  };
  const lines: string[] = [];
  for (const [name, type, help] of HELP) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [suffix, v] of samples[name] ?? []) {
      const l = suffix === '_bucket' ? `${labels},le="+Inf"` : labels;
      lines.push(`${name}${suffix}{${l}} ${value(v)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
