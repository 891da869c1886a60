/**
 * A regression suite's manifest, `suite.json` (contracts.md §13): its name@version, who its runs
 * are charged to, the models it is for, the prompt template and generation settings it was written
 * for, and its scorers. Thresholds are not here: judging the scores is the gate's job (§10).
 * Read strictly: a misspelt scorer or setting would otherwise score nothing and look fine.
 */
import { z } from 'zod';
import { nameSchema } from '../events.js';
import { readJsonSchema, type JsonSchema } from './json-schema.js';
import { DEFAULT_REFUSAL_PHRASES } from './scorers.js';
import { issueText } from './zod-issues.js';

/** The placeholder a case's `input` fills in the prompt template. */
export const INPUT_PLACEHOLDER = '{{input}}';

export interface Generation {
  readonly temperature: number;
  readonly max_tokens: number;
  readonly top_p?: number;
  readonly stop?: readonly string[];
  readonly seed?: number;
  /** Ask for a streamed answer (SSE), as interactive clients do; its usage comes in the last chunk. */
  readonly stream?: boolean;
}

export interface SuiteScorers {
  readonly exact_match?: Record<string, never>;
  readonly f1?: Record<string, never>;
  /** JSON validity on the cases that ask for it; `schema` applies to every such case without its own. */
  readonly json?: { readonly schema?: JsonSchema };
  readonly regex?: Record<string, never>;
  readonly refusal?: { readonly phrases: readonly string[] };
  readonly toxicity?: { readonly blockedWords: readonly string[] };
}

export interface SuiteManifest {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly tenant: string;
  readonly feature: string;
  readonly requestClass: string;
  readonly models: readonly string[];
  /** `chat`: /v1/chat/completions with messages; `completions`: /v1/completions with a prompt. */
  readonly api: 'chat' | 'completions';
  readonly prompt: { readonly system?: string; readonly template: string };
  readonly generation: Generation;
  readonly scorers: SuiteScorers;
}

/** The event's `dataset` for a suite: `name@version` (contracts.md §2.4). */
export function datasetOf(manifest: Pick<SuiteManifest, 'name' | 'version'>): string {
  return `${manifest.name}@${manifest.version}`;
}

const noSettings = z.strictObject({}, { error: 'must be an object ({} when it takes no settings)' });
const finiteIn = (min: number, max: number) =>
  z
    .number({ error: `must be a number from ${min} to ${max}` })
    .min(min, { error: `must be a number from ${min} to ${max}` })
    .max(max, { error: `must be a number from ${min} to ${max}` });
const phrase = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });
// No `@` or white space: the version is the part after the one `@` of the dataset name.
const part = (field: string) =>
  z
    .string({ error: `must be a string` })
    .regex(/^[A-Za-z0-9._-]+$/, { error: `${field} must be letters, digits, ".", "_" or "-"` });

const manifestSchema = z.strictObject(
  {
    $comment: z.string().optional(),
    name: part('name'),
    version: part('version'),
    description: z.string().optional(),
    tenant: nameSchema(),
    feature: nameSchema(),
    requestClass: nameSchema().default('batch'),
    models: z.array(nameSchema(Number.POSITIVE_INFINITY)).min(1, { error: 'must name at least one model' }),
    api: z.enum(['chat', 'completions'], { error: 'must be "chat" or "completions"' }).default('chat'),
    prompt: z.strictObject({
      system: z.string().optional(),
      template: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
    }),
    generation: z.strictObject({
      temperature: finiteIn(0, 2),
      max_tokens: z.int({ error: 'must be an integer from 1 to 32768' }).min(1).max(32768),
      top_p: finiteIn(0, 1).optional(),
      stop: z.array(phrase).max(4, { error: 'at most 4 stop sequences (the OpenAI API limit)' }).optional(),
      seed: z.int({ error: 'must be an integer' }).optional(),
      stream: z.boolean({ error: 'must be true or false' }).optional(),
    }),
    scorers: z
      .strictObject({
        exact_match: noSettings.optional(),
        f1: noSettings.optional(),
        json: z.strictObject({ schema: z.unknown().optional() }).optional(),
        regex: noSettings.optional(),
        refusal: z.strictObject({ phrases: z.array(phrase).min(1).optional() }).optional(),
        toxicity: z
          .strictObject({
            blockedWords: z.array(phrase).min(1, { error: 'must list at least one word' }),
          })
          .optional(),
      })
      .refine((s) => Object.keys(s).length > 0, { error: 'must name at least one scorer' }),
  },
  { error: 'must be a JSON object' },
);

/** Parses `suite.json`'s text; throws an Error whose message names the file and the field. */
export function parseManifest(text: string, file: string): SuiteManifest {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${file}: ${issueText(parsed.error.issues)}`);
  const m = parsed.data;
  const placeholders = m.prompt.template.match(/\{\{[^}]*\}\}/g) ?? [];
  const unknown = placeholders.find((p) => p !== INPUT_PLACEHOLDER);
  if (unknown !== undefined)
    throw new Error(`${file}: prompt.template: unknown placeholder ${unknown} (only ${INPUT_PLACEHOLDER})`);
  let schema: JsonSchema | undefined;
  if (m.scorers.json?.schema !== undefined) {
    const read = readJsonSchema(m.scorers.json.schema, 'scorers.json.schema');
    if ('error' in read) throw new Error(`${file}: ${read.error}`);
    schema = read;
  }
  const scorers: SuiteScorers = {
    ...(m.scorers.exact_match === undefined ? {} : { exact_match: {} }),
    ...(m.scorers.f1 === undefined ? {} : { f1: {} }),
    ...(m.scorers.json === undefined ? {} : { json: schema === undefined ? {} : { schema } }),
    ...(m.scorers.regex === undefined ? {} : { regex: {} }),
    ...(m.scorers.refusal === undefined
      ? {}
      : { refusal: { phrases: m.scorers.refusal.phrases ?? DEFAULT_REFUSAL_PHRASES } }),
    ...(m.scorers.toxicity === undefined
      ? {}
      : { toxicity: { blockedWords: m.scorers.toxicity.blockedWords } }),
  };
  return {
    name: m.name,
    version: m.version,
    ...(m.description === undefined ? {} : { description: m.description }),
    tenant: m.tenant,
    feature: m.feature,
    requestClass: m.requestClass,
    models: m.models,
    api: m.api,
    prompt: {
      ...(m.prompt.system === undefined ? {} : { system: m.prompt.system }),
      template: m.prompt.template,
    },
    generation: m.generation,
    scorers,
  };
}
