import { describe, expect, it } from 'vitest';
import { populationStabilityIndex } from '../../../src/domain/drift/psi.js';
import { BIN_EDGES, HistogramBuilder } from '../../../src/domain/metrics/histogram.js';
import { spread } from './fixture.js';

/** `count` log-normal prompt lengths (median 500 x scale, sigma 0.8) from a seeded generator. */
function logNormal(seed: number, count: number, scale: number) {
  // mulberry32: a small, well-mixed 32-bit generator.
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  const builder = new HistogramBuilder(BIN_EDGES.promptTokens);
  for (let i = 0; i < count; i += 1) {
    const normal = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    builder.add(Math.exp(Math.log(500 * scale) + 0.8 * normal));
  }
  return builder.histogram();
}

describe('population stability index', () => {
  const usual = spread('promptTokens', 5000, 250, 750);

  it('is 0 for the same shape, and close to 0 at another volume', () => {
    expect(populationStabilityIndex(usual, usual)).toBe(0);
    expect(
      populationStabilityIndex(
        usual.map((c) => c * 3),
        usual,
      ),
    ).toBeLessThan(1e-3);
  });

  it('stays under the default warning level for a small move and passes it for prompts three times as long', () => {
    expect(populationStabilityIndex(spread('promptTokens', 5000, 260, 780), usual)).toBeLessThan(0.25);
    expect(populationStabilityIndex(spread('promptTokens', 5000, 750, 2250), usual)).toBeGreaterThan(0.25);
  });

  it('is finite when the shapes share no bin', () => {
    const far = spread('promptTokens', 5000, 100_000, 200_000);
    const index = populationStabilityIndex(far, usual);
    expect(Number.isFinite(index)).toBe(true);
    expect(index).toBeGreaterThan(1);
  });

  it('is 0 when either side is empty', () => {
    expect(populationStabilityIndex([], usual)).toBe(0);
    expect(populationStabilityIndex(usual, [0, 0])).toBe(0);
  });

  it('at the default 1,000 samples, keeps sampling noise under 0.1 and puts a 1.5x shift over the 0.15 warning', () => {
    const seeds = Array.from({ length: 20 }, (_, i) => i + 1);
    const noise = seeds.map((seed) =>
      populationStabilityIndex(logNormal(seed, 1000, 1), logNormal(seed + 100, 4000, 1)),
    );
    const shifted = seeds.map((seed) =>
      populationStabilityIndex(logNormal(seed, 1000, 1.5), logNormal(seed + 100, 4000, 1)),
    );
    expect(Math.max(...noise)).toBeLessThan(0.1);
    expect(Math.min(...shifted)).toBeGreaterThan(0.15);
  });
});
