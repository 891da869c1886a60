/**
 * The retraining file and the job's configs held to each other: every model in
 * `rules/retraining.json` runs `python train.py --config configs/<file>.yaml` with the job's three
 * inputs and output, that file exists under `training/configs/`, names the same model and trains a
 * Hugging Face base model in bf16; and no config is left that no model uses.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseRetrainingConfig, strategyFor } from '../../src/domain/retrain/config.js';

const RETRAINING = parseRetrainingConfig(JSON.parse(readFileSync('rules/retraining.json', 'utf8')));
const MODELS = Object.entries(RETRAINING.models);
const COMMAND =
  /^python train\.py --config (configs\/[\w.-]+\.yaml) --data \$\{\{inputs\.training_data\}\} --base-model \$\{\{inputs\.base_model\}\} --output \$\{\{outputs\.model\}\}$/;

function configOf(command: string): string {
  const path = COMMAND.exec(command)?.[1];
  if (path === undefined) throw new Error(`command does not match train.py's command line: ${command}`);
  return path;
}

describe('training/configs and rules/retraining.json', () => {
  it('has models to check, and the entry point they run', () => {
    expect(MODELS.length).toBeGreaterThan(0);
    expect(existsSync('training/train.py')).toBe(true);
  });

  it.each(MODELS)('%s: its command names a config of the same model', (model, entry) => {
    const path = `training/${configOf(entry.command)}`;
    expect(existsSync(path), `${path} is missing`).toBe(true);
    const config = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(config.model).toBe(model);
    expect(config.base_format).toBe('hf');
    expect(config.precision).toBe('bf16');
    // FSDP's activation checkpointing is what lets the sharded models fit (docs/retraining.md).
    if (strategyFor(entry.parametersBillions, RETRAINING) === 'FSDP')
      expect(config.activation_checkpointing).toBe(true);
  });

  it('every config under training/configs is used by a model', () => {
    const used = new Set(MODELS.map(([, entry]) => configOf(entry.command)));
    const files = readdirSync('training/configs').map((name) => `configs/${name}`);
    expect(files.filter((f) => !used.has(f))).toEqual([]);
  });

  it('the check refuses a command that does not run train.py as the job does', () => {
    expect(() => configOf('python other.py --config configs/x.yaml')).toThrow(/does not match/);
    expect(configOf(MODELS[0]?.[1].command ?? '')).toMatch(/^configs\//);
  });
});
