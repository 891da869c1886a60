/**
 * The retraining configuration file (rules/retraining.json): per model, what a retraining job
 * trains (size, data, base model, command) and on how many nodes for how long; for all models, the
 * cluster's VM size, the memory rule that picks the distribution strategy, the cooldown and the
 * monthly budget. See docs/retraining.md.
 */
import { z } from 'zod';
import { ConfigurationError } from '../errors.js';
import { hasControlCharacter } from '../text.js';

/** Azure ML asset names and versions: they go into `azureml:<name>:<version>`, so no `:` or space. */
const ASSET_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
/** Azure ML experiment names: letters, digits, `.`, `-` and `_`, up to 255 characters. */
const EXPERIMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

const positive = z.number().positive({ error: 'must be a positive number' });
const count = z
  .number()
  .int({ error: 'must be an integer >= 1' })
  .min(1, { error: 'must be an integer >= 1' });
const assetPart = z.string().regex(ASSET_PART, {
  error: 'must be an Azure ML asset name or version (letters, digits, ".", "-", "_")',
});

const modelSchema = z
  .strictObject({
    parametersBillions: positive,
    instanceCount: count,
    expectedHours: positive,
    timeoutHours: positive,
    trainingData: z.strictObject({ name: assetPart, version: assetPart }),
    baseModel: z
      .string()
      .regex(/^azureml:\S+$/, { error: 'must be an Azure ML model reference such as azureml:llama-3-8b:3' }),
    command: z.string().refine((text) => text.trim() !== '' && !hasControlCharacter(text), {
      error: 'must be one non-empty line without control characters',
    }),
    experimentName: z.string().regex(EXPERIMENT, { error: 'must be an Azure ML experiment name' }).optional(),
  })
  .superRefine((entry, context) => {
    if (entry.timeoutHours < entry.expectedHours) {
      context.addIssue({ code: 'custom', path: ['timeoutHours'], message: 'must be >= expectedHours' });
    }
  });

const configSchema = z.strictObject({
  computeSku: z.string().min(1, { error: 'must name the cluster VM size, e.g. Standard_NC96ads_A100_v4' }),
  gpuMemoryGb: positive.default(80),
  bytesPerParameter: positive.default(16),
  cooldownHours: z.number().min(0, { error: 'must be a number >= 0' }).default(24),
  monthlyBudgetUsd: positive,
  models: z.record(z.string().min(1, { error: 'model names must not be empty' }), modelSchema),
});

/** One model's retraining entry (or the `*` entry that serves models without their own). */
export interface ModelRetraining {
  /** Model size in billions of parameters: decides DDP or FSDP (strategyFor). */
  readonly parametersBillions: number;
  /** Nodes of the cluster the job runs on. */
  readonly instanceCount: number;
  /** What the estimate charges for. */
  readonly expectedHours: number;
  /** Azure ML stops the job after this long; >= expectedHours. */
  readonly timeoutHours: number;
  /** The registered Azure ML data asset to train on. */
  readonly trainingData: { readonly name: string; readonly version: string };
  /** An azureml model reference, e.g. `azureml:llama-3-8b:3`. */
  readonly baseModel: string;
  readonly command: string;
  readonly experimentName?: string;
}

export interface RetrainingConfig {
  /** VM size of the cluster's nodes, priced on the price card (e.g. Standard_NC96ads_A100_v4). */
  readonly computeSku: string;
  /** Memory of one GPU, GB (default 80: A100 80GB). */
  readonly gpuMemoryGb: number;
  /** Training memory per parameter, bytes (default 16, see strategyFor). */
  readonly bytesPerParameter: number;
  readonly cooldownHours: number;
  readonly monthlyBudgetUsd: number;
  readonly models: Readonly<Record<string, ModelRetraining>>;
}

/**
 * Validates a retraining config. Unknown fields are refused (a misspelt field would otherwise be
 * silently ignored), and errors name the field: `retraining config: models.llama-3-8b.timeoutHours:
 * must be >= expectedHours`.
 */
export function parseRetrainingConfig(value: unknown): RetrainingConfig {
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = [...(issue?.path ?? []), ...(issue?.code === 'unrecognized_keys' ? issue.keys : [])]
      .map(String)
      .join('.');
    throw new ConfigurationError(
      `retraining config: ${where === '' ? '' : `${where}: `}${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** The model's own entry, else the `*` entry, else undefined (the model is not retrained). */
export function retrainingFor(config: RetrainingConfig, model: string): ModelRetraining | undefined {
  // Own keys only: a model called `constructor` or `__proto__` must not find Object's members.
  if (Object.hasOwn(config.models, model)) return config.models[model];
  return Object.hasOwn(config.models, '*') ? config.models['*'] : undefined;
}

export type Strategy = 'DDP' | 'FSDP';

/**
 * DDP when the whole training state fits on one GPU, else FSDP.
 *
 * DDP keeps a full replica of the weights, gradients and optimizer state on every GPU; FSDP shards
 * all three across the GPUs (ZeRO stage 3), paying extra communication for it. A full fine-tune
 * with Adam in mixed precision holds about 16 bytes per parameter (2 fp16/bf16 weights, 2 gradients,
 * 4 fp32 master weights, 4 + 4 Adam moments), so the state is parameters x bytesPerParameter. It
 * must fit in 90% of one GPU's memory, the rest being left for activations, the CUDA context and
 * allocator fragmentation. 8B x 16 B = 128 GB > 72 GB of an 80 GB A100: FSDP; 1B x 16 B = 16 GB: DDP.
 */
export function strategyFor(
  parametersBillions: number,
  config: Pick<RetrainingConfig, 'gpuMemoryGb' | 'bytesPerParameter'>,
): Strategy {
  // Both sides x10 so that 90% is the integer 9 and a case on the boundary is not lost to rounding.
  const stateGbTimes10 = parametersBillions * config.bytesPerParameter * 10;
  return stateGbTimes10 <= config.gpuMemoryGb * 9 ? 'DDP' : 'FSDP';
}
