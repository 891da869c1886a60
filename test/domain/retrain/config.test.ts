import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/domain/errors.js';
import {
  parseRetrainingConfig,
  retrainingFor,
  strategyFor,
  type RetrainingConfig,
} from '../../../src/domain/retrain/config.js';

const entry = {
  parametersBillions: 8,
  instanceCount: 2,
  expectedHours: 4,
  timeoutHours: 6,
  trainingData: { name: 'support-qa-train', version: '3' },
  baseModel: 'azureml:llama-3-8b:3',
  command: 'python train.py --config configs/llama.yaml',
};

const file = (overrides: Record<string, unknown> = {}, model: Record<string, unknown> = {}): unknown => ({
  computeSku: 'Standard_NC96ads_A100_v4',
  monthlyBudgetUsd: 2000,
  models: { 'llama-3-8b': { ...entry, ...model } },
  ...overrides,
});

function errorOf(value: unknown): string {
  try {
    parseRetrainingConfig(value);
  } catch (error) {
    if (error instanceof ConfigurationError) return error.message;
    throw error;
  }
  return 'no error';
}

describe('parseRetrainingConfig', () => {
  it('fills the defaults: an 80 GB A100, 16 bytes per parameter, a 24 hour cooldown', () => {
    const config = parseRetrainingConfig(file());
    expect([config.gpuMemoryGb, config.bytesPerParameter, config.cooldownHours]).toEqual([80, 16, 24]);
  });

  it('accepts the shipped rules/retraining.json', () => {
    const config = parseRetrainingConfig(JSON.parse(readFileSync('rules/retraining.json', 'utf8')));
    // The training cluster bicep/ defines (8 x A100 40GB per node); bicep.test.ts holds the two together.
    expect(config.computeSku).toBe('Standard_ND96asr_v4');
    expect(config.gpuMemoryGb).toBe(40);
  });

  it.each([
    [file({}, { timeoutHours: 3 }), 'models.llama-3-8b.timeoutHours: must be >= expectedHours'],
    [file({}, { instanceCount: 1.5 }), 'models.llama-3-8b.instanceCount: must be an integer >= 1'],
    [file({}, { parametersBillions: 0 }), 'models.llama-3-8b.parametersBillions: must be a positive number'],
    [file({}, { trainingData: { name: 'a:b', version: '1' } }), 'models.llama-3-8b.trainingData.name'],
    [
      file({}, { baseModel: 'llama-3-8b' }),
      'models.llama-3-8b.baseModel: must be an Azure ML model reference',
    ],
    [
      file({}, { command: 'python train.py\nrm -rf /' }),
      'models.llama-3-8b.command: must be one non-empty line',
    ],
    [file({}, { command: '   ' }), 'models.llama-3-8b.command: must be one non-empty line'],
    [file({}, { experimentName: 'has space' }), 'models.llama-3-8b.experimentName'],
    [file({ monthlyBudgetUsd: undefined }), 'monthlyBudgetUsd'],
    [file({ cooldownHours: -1 }), 'cooldownHours: must be a number >= 0'],
  ])('refuses a bad field and names its path: %#', (value, message) => {
    expect(errorOf(value)).toContain(`retraining config: ${message}`);
  });

  it('refuses an unknown field, so a misspelt one is not silently ignored', () => {
    expect(errorOf(file({}, { expectedHour: 4 }))).toBe(
      'retraining config: models.llama-3-8b.expectedHour: Unrecognized key: "expectedHour"',
    );
  });
});

describe('retrainingFor', () => {
  const config = parseRetrainingConfig(
    file({
      models: { 'llama-3-8b': entry, '*': { ...entry, parametersBillions: 1 } },
    }),
  );

  it('gives a model its own entry', () => {
    expect(retrainingFor(config, 'llama-3-8b')?.parametersBillions).toBe(8);
  });

  it('gives a model without an entry the * entry', () => {
    expect(retrainingFor(config, 'phi-3-mini')?.parametersBillions).toBe(1);
  });

  it('gives nothing when there is neither', () => {
    const own = parseRetrainingConfig(file());
    expect(retrainingFor(own, 'phi-3-mini')).toBeUndefined();
  });

  it("does not take Object's members for entries", () => {
    const own = parseRetrainingConfig(file());
    expect([retrainingFor(own, 'constructor'), retrainingFor(own, 'toString')]).toEqual([
      undefined,
      undefined,
    ]);
  });
});

describe('strategyFor', () => {
  const a100: Pick<RetrainingConfig, 'gpuMemoryGb' | 'bytesPerParameter'> = {
    gpuMemoryGb: 80,
    bytesPerParameter: 16,
  };

  it('shards an 8B model: 128 GB of training state does not fit in 90% of 80 GB', () => {
    expect(strategyFor(8, a100)).toBe('FSDP');
  });

  it('replicates a 1B model: 16 GB fits on one GPU', () => {
    expect(strategyFor(1, a100)).toBe('DDP');
  });

  it('replicates a model whose state is exactly 90% of the GPU (4.5B x 16 B = 72 GB)', () => {
    expect(strategyFor(4.5, a100)).toBe('DDP');
  });

  it('shards just above the boundary', () => {
    expect(strategyFor(4.51, a100)).toBe('FSDP');
  });

  it('follows the configured bytes per parameter (LoRA-like 4 B: an 8B model fits)', () => {
    expect(strategyFor(8, { ...a100, bytesPerParameter: 4 })).toBe('DDP');
  });
});
