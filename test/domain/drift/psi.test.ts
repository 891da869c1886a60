import { describe, expect, it } from 'vitest';
import { populationStabilityIndex } from '../../../src/domain/drift/psi.js';
import { spread } from './fixture.js';

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
});
