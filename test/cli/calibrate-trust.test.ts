import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fitScrapes, parseExposition } from '../../src/domain/calibration/prometheus.js';
import { runMain } from '../helpers/cli.js';

const MODEL = 'm';

/** Scrapes of an engine whose step takes `stepMs(prompt, generated per step)` at each load. */
function scrapes(loads: readonly [number, number][], stepMs: (p: number, g: number) => number): string[] {
  let [steps, prompt, generated, itlSum, itlCount] = [0, 0, 0, 0, 0];
  const exposition = (): string =>
    [
      `vllm:iteration_tokens_total_count{model_name="${MODEL}"} ${steps}`,
      `vllm:prompt_tokens_total{model_name="${MODEL}"} ${prompt}`,
      `vllm:generation_tokens_total{model_name="${MODEL}"} ${generated}`,
      `vllm:inter_token_latency_seconds_sum{model_name="${MODEL}"} ${itlSum}`,
      `vllm:inter_token_latency_seconds_count{model_name="${MODEL}"} ${itlCount}`,
      '',
    ].join('\n');
  const texts = [exposition()];
  for (const [p, g] of loads) {
    const n = 1000;
    steps += n;
    prompt += p * n;
    generated += g * n;
    itlSum += (stepMs(p, g) / 1000) * g * n;
    itlCount += g * n;
    texts.push(exposition());
  }
  return texts;
}

const LOADS: [number, number][] = [
  [10, 40],
  [200, 60],
  [50, 200],
  [400, 150],
  [5, 10],
];

function files(texts: readonly string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'calibrate-trust-'));
  return texts.map((text, i) => {
    const file = join(dir, `scrape-${i}.prom`);
    writeFileSync(file, text);
    return file;
  });
}

const calibrate = (paths: readonly string[], extra: string[] = []) =>
  runMain(['calibrate', ...paths.flatMap((f) => ['--metrics', f]), ...extra]);

describe('chargeback calibrate trusts only what the event fit would', () => {
  it('trusts a clean fit: exit 0, no reason', async () => {
    const result = await calibrate(files(scrapes(LOADS, (p, g) => 14 + 0.09 * p + 0.025 * g)));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('m: fixed step 14.00 ms');
    expect(result.stdout).not.toContain('not trusted');
  });

  it('flags a negative decode cost and exits 1 with a one-line reason', async () => {
    // Steps that get faster the more tokens they generate: no engine works that way.
    const result = await calibrate(files(scrapes(LOADS, (p, g) => 30 + 0.09 * p - 0.05 * g)));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^m: not trusted: the fitted decode cost -0\.0500 ms\/token is not positive \(fitted, not to be used: /m,
    );
    expect(result.stderr).toBe(
      'chargeback: calibrate: no trusted constants: m: the fitted decode cost -0.0500 ms/token is not positive\n',
    );
  });

  it('says so in the JSON too', async () => {
    const result = await calibrate(files(scrapes(LOADS, (p, g) => 30 + 0.09 * p - 0.05 * g)), ['--json']);
    expect(result.code).toBe(1);
    const [fit] = JSON.parse(result.stdout) as { trusted: boolean; reason: string }[];
    expect(fit).toMatchObject({ trusted: false, reason: expect.stringContaining('decode cost') as unknown });
  });

  it('does not trust 3 intervals: they fit 3 constants exactly, with no error to judge them by', () => {
    const [fit] = fitScrapes(
      scrapes(LOADS.slice(0, 3), (p, g) => 14 + 0.09 * p + 0.025 * g).map((t, i) =>
        parseExposition(t, `s${i}`),
      ),
    );
    expect(fit?.trusted).toBe(false);
    expect(fit?.reason).toBe(
      '3 interval(s) fit the 3 constants exactly, with no error estimate; 4 or more are needed',
    );
  });

  it('does not trust an uncertain fixed step time', () => {
    // Noise of several ms on a step whose fixed part is under 1 ms.
    const noise = [2, -1.5, 2, -2, 1.5, -2, 2, -1.5];
    const loads: [number, number][] = [...LOADS, [100, 100], [300, 20], [20, 300]];
    let k = 0;
    const [fit] = fitScrapes(
      scrapes(loads, (p, g) => 0.5 + 0.09 * p + 0.025 * g + (noise[k++] ?? 0)).map((t, i) =>
        parseExposition(t, `s${i}`),
      ),
    );
    expect(fit?.trusted).toBe(false);
    expect(fit?.reason).toBe('the fitted fixedMs is uncertain (standard error 1.3 for 2.24)');
  });

  it('refuses scrapes with no samples at all: exit 1 naming them, not "0 intervals" and exit 0', async () => {
    const empty = files(['', '# nothing scraped\n']);
    const result = await calibrate(empty);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `chargeback: calibrate: no trusted constants: 2 scrape(s) hold no vLLM samples (${empty.join(', ')})\n`,
    );
  });

  it('refuses when no model has enough intervals', async () => {
    const result = await calibrate(files(scrapes(LOADS.slice(0, 1), () => 20)));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'chargeback: calibrate: no trusted constants: m: 1 interval(s) with engine steps; 3 or more at different loads are needed\n',
    );
  });
});
