import type { StepCosts } from './engine.js';
import type { VllmLikeCosts } from './vllm-like.js';
import type { Random } from './random.js';

/**
 * What the simulated fleet serves and who calls it. Tenants include the awkward names real
 * customers have (a comma and quotes, an emoji, a leading `@` that a spreadsheet would read as a
 * formula) so that every report built from simulated data exercises the CSV rules.
 */
export const TENANTS = {
  contoso: 'contoso',
  fabrikam: 'fabrikam',
  northwind: 'northwind',
  tailwind: 'Tailwind, "Retail" Ltd',
  woodgrove: 'woodgrove 🌲',
  adatum: '@adatum',
} as const;

export interface ModelProfile {
  readonly name: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  /** Step time relative to the calibrated 8B-on-one-A100 step (tensor parallel over gpuCount). */
  readonly stepFactor: number;
  /** The engine's own step constants when they differ from STEP_MS (calibration scenarios). */
  readonly stepCosts?: StepCosts;
  /** Served by the vLLM-like engine with these constants instead (src/simulator/vllm-like.ts). */
  readonly vllmLike?: VllmLikeCosts;
}

export const MODELS: readonly ModelProfile[] = [
  { name: 'llama-3.1-8b-instruct', gpuSku: 'Standard_NC24ads_A100_v4', gpuCount: 1, stepFactor: 1 },
  // 14B over two GPUs: about 7B of weights per GPU plus the all-reduce of tensor parallelism.
  { name: 'qwen2.5-14b-instruct', gpuSku: 'Standard_NC48ads_A100_v4', gpuCount: 2, stepFactor: 1.1 },
];

export interface FeatureProfile {
  readonly name: string;
  readonly requestClass: 'interactive' | 'batch';
  readonly tenants: readonly (readonly [string, number])[];
  readonly prompt: { readonly median: number; readonly sigma: number };
  readonly completion: { readonly median: number; readonly sigma: number };
  /** A shared prefix (system prompt, instructions) served from the prefix cache this often. */
  readonly cachedPrefix: { readonly tokens: number; readonly probability: number };
}

const feature = (f: FeatureProfile): FeatureProfile => f;

export const FEATURES = {
  chat: feature({
    name: 'chat',
    requestClass: 'interactive',
    tenants: [
      [TENANTS.contoso, 35],
      [TENANTS.fabrikam, 25],
      [TENANTS.tailwind, 20],
      [TENANTS.woodgrove, 20],
    ],
    prompt: { median: 700, sigma: 0.8 },
    completion: { median: 220, sigma: 0.7 },
    cachedPrefix: { tokens: 512, probability: 0.8 },
  }),
  codeAssist: feature({
    name: 'code-assist',
    requestClass: 'interactive',
    tenants: [
      [TENANTS.contoso, 50],
      [TENANTS.northwind, 50],
    ],
    prompt: { median: 1800, sigma: 0.6 },
    completion: { median: 90, sigma: 0.8 },
    cachedPrefix: { tokens: 1024, probability: 0.6 },
  }),
  searchAnswer: feature({
    name: 'search-answer',
    requestClass: 'interactive',
    tenants: [
      [TENANTS.fabrikam, 40],
      [TENANTS.northwind, 30],
      [TENANTS.adatum, 30],
    ],
    prompt: { median: 2600, sigma: 0.4 },
    completion: { median: 180, sigma: 0.5 },
    cachedPrefix: { tokens: 256, probability: 0.5 },
  }),
  reportDigest: feature({
    name: 'report-digest',
    requestClass: 'batch',
    tenants: [[TENANTS.fabrikam, 1]],
    prompt: { median: 1500, sigma: 0.5 },
    completion: { median: 400, sigma: 0.3 },
    cachedPrefix: { tokens: 384, probability: 1 },
  }),
  summarizeDocs: feature({
    name: 'summarize-docs',
    requestClass: 'batch',
    tenants: [
      [TENANTS.northwind, 60],
      [TENANTS.woodgrove, 40],
    ],
    prompt: { median: 3200, sigma: 0.5 },
    completion: { median: 280, sigma: 0.4 },
    cachedPrefix: { tokens: 128, probability: 1 },
  }),
  classifyTickets: feature({
    name: 'classify-tickets',
    requestClass: 'batch',
    tenants: [
      [TENANTS.contoso, 70],
      [TENANTS.adatum, 30],
    ],
    prompt: { median: 420, sigma: 0.5 },
    completion: { median: 6, sigma: 0.5 },
    cachedPrefix: { tokens: 300, probability: 1 },
  }),
  translate: feature({
    name: 'translate',
    requestClass: 'batch',
    tenants: [[TENANTS.tailwind, 1]],
    prompt: { median: 700, sigma: 0.6 },
    completion: { median: 770, sigma: 0.6 },
    cachedPrefix: { tokens: 96, probability: 1 },
  }),
};

const MAX_MODEL_LEN = 8192;
const BLOCK_TOKENS = 16; // vLLM's prefix cache hits whole KV blocks

export interface Shape {
  readonly promptTokens: number;
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
}

/** Draws the token counts of one request of a feature, within the model's context length. */
export function drawShape(random: Random, f: FeatureProfile): Shape {
  const promptTokens = Math.min(
    MAX_MODEL_LEN - 64,
    Math.max(8, Math.round(random.logNormal(f.prompt.median, f.prompt.sigma))),
  );
  const completion = Math.max(1, Math.round(random.logNormal(f.completion.median, f.completion.sigma)));
  const completionTokens = Math.min(completion, 2048, MAX_MODEL_LEN - promptTokens);
  const hit = random.next() < f.cachedPrefix.probability;
  const prefix = Math.min(f.cachedPrefix.tokens, promptTokens - 1);
  const cachedPromptTokens = hit ? Math.floor(prefix / BLOCK_TOKENS) * BLOCK_TOKENS : 0;
  return { promptTokens, cachedPromptTokens, completionTokens };
}
