import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fitScrapes, parseExposition } from '../../src/domain/calibration/prometheus.js';
import { runMain } from '../helpers/cli.js';

/**
 * Expositions of an engine whose steps cost exactly F + cp x prompt tokens + cd x generated tokens,
 * at different loads: the fit must give the constants back.
 */
const F = 14;
const CP = 0.09;
const CD = 0.025;

function scrapes(
  model = 'meta-llama/Llama-3.1-8B-Instruct',
  itlName = 'vllm:inter_token_latency_seconds',
): string[] {
  const loads = [
    [10, 40],
    [200, 60],
    [50, 200],
    [400, 150],
    [5, 10],
  ];
  let steps = 0;
  let prompt = 0;
  let generated = 0;
  let itlSum = 0;
  let itlCount = 0;
  const texts = [exposition()];
  function exposition(): string {
    const l = `model_name="${model}"`;
    return [
      '# HELP vllm:iteration_tokens_total Histogram of number of tokens per engine_step.',
      '# TYPE vllm:iteration_tokens_total histogram',
      `vllm:iteration_tokens_total_bucket{le="+Inf",${l}} ${steps}`,
      `vllm:iteration_tokens_total_count{${l}} ${steps}`,
      `vllm:iteration_tokens_total_sum{${l}} ${prompt + generated}`,
      `vllm:prompt_tokens_total{${l}} ${prompt}`,
      `vllm:generation_tokens_total{${l}} ${generated}`,
      `${itlName}_sum{${l}} ${itlSum}`,
      `${itlName}_count{${l}} ${itlCount}`,
      'vllm:num_requests_running{model_name="x"} 3',
      '',
    ].join('\n');
  }
  for (const [promptPerStep = 0, generatedPerStep = 0] of loads) {
    const n = 1000;
    steps += n;
    prompt += promptPerStep * n;
    generated += generatedPerStep * n;
    const stepMs = F + CP * promptPerStep + CD * generatedPerStep;
    itlSum += (stepMs / 1000) * generatedPerStep * n;
    itlCount += generatedPerStep * n;
    texts.push(exposition());
  }
  return texts;
}

describe('calibrating from vLLM Prometheus metrics', () => {
  it('recovers the fixed step time and the token costs from successive scrapes at different loads', () => {
    const [fit] = fitScrapes(scrapes().map((t, i) => parseExposition(t, `scrape ${i}`)));
    expect(fit?.model).toBe('meta-llama/Llama-3.1-8B-Instruct');
    expect(fit?.fixedMs).toBeCloseTo(F, 6);
    expect(fit?.prefillMsPerToken).toBeCloseTo(CP, 8);
    expect(fit?.decodeMsPerToken).toBeCloseTo(CD, 8);
    expect(fit?.intervals).toBe(5);
  });

  it('reads a model_name holding quotes, backslashes, braces and commas as the text format escapes it', () => {
    const escaped = 'we\\"ird}, \\\\ {name}\\n';
    const [fit] = fitScrapes(scrapes(escaped).map((t, i) => parseExposition(t, `scrape ${i}`)));
    expect(fit?.model).toBe('we"ird}, \\ {name}\n');
    expect(fit?.fixedMs).toBeCloseTo(F, 6);
    // A brace outside quotes still ends the labels: such a line is not a sample.
    expect(() => parseExposition('vllm:prompt_tokens_total{model_name="m"}} 1\n', 'bad.prom')).toThrow(
      /bad\.prom line 1: not a Prometheus sample/,
    );
  });

  it('reads the older metric name, skips an interval over a restart, and says when there is too little', () => {
    const texts = scrapes('m', 'vllm:time_per_output_token_seconds');
    const restarted = [...texts.slice(0, 3), texts[0] ?? '', ...texts.slice(3)];
    const [fit] = fitScrapes(restarted.map((t, i) => parseExposition(t, `s${i}`)));
    expect(fit?.skipped).toEqual(['interval 3: a counter went down (vLLM restarted)']);
    // The interval after the restart spans three loads at once: close, not exact.
    expect(Math.abs((fit?.fixedMs ?? 0) - F)).toBeLessThan(0.1);
    // Scrapes of an idle engine (the same counters again) are named in one line, however many.
    const idle = [
      ...texts.slice(0, 2),
      ...Array.from({ length: 7 }, () => texts[1] ?? ''),
      ...texts.slice(2),
    ];
    const [quiet] = fitScrapes(idle.map((t, i) => parseExposition(t, `q${i}`)));
    expect(quiet?.skipped).toEqual(['7 interval(s) without engine steps (2, 3, 4, 5, 6, ...)']);
    expect(quiet?.fixedMs).toBeCloseTo(F, 6);
    const [few] = fitScrapes(texts.slice(0, 3).map((t, i) => parseExposition(t, `s${i}`)));
    expect(few?.reason).toBe('2 interval(s) with engine steps; 3 or more at different loads are needed');
  });

  it('names a line that is not a Prometheus sample', () => {
    expect(() =>
      parseExposition('vllm:prompt_tokens_total{model_name="m"} 1\nthis is not metrics\n', 'x.prom'),
    ).toThrow('x.prom line 2: not a Prometheus sample: this is not metrics');
  });

  it('prints the constants from files on the command line, and refuses bad arguments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'calibrate-'));
    const files = scrapes().map((text, i) => {
      const file = join(dir, `scrape-${i}.prom`);
      writeFileSync(file, text);
      return file;
    });
    const result = await runMain(['calibrate', ...files.flatMap((f) => ['--metrics', f])]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      'meta-llama/Llama-3.1-8B-Instruct: fixed step 14.00 ms, prefill 0.0900 ms/token, decode 0.0250 ms/generated token (context included), from 5 interval(s)',
    );
    expect((await runMain(['calibrate', '--metrics', files[0] ?? ''])).stderr).toContain(
      'two or more --metrics',
    );
    expect((await runMain(['calibrate', '--url', 'ftp://x'])).stderr).toContain(
      '--url must be an http(s) URL',
    );
    expect(
      (await runMain(['calibrate', '--metrics', join(dir, 'nope'), '--metrics', files[1] ?? ''])).code,
    ).toBe(2);
  });
});
