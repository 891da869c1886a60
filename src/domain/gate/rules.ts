/**
 * The quality gate's rules file (contracts.md §10): per model (or `*` for any model without its own entry)
 * the held-out dataset the evaluation must use, the longest age of the latest evaluation, and each
 * metric's bounds. docs/quality-gates.md explains every field; rules/quality-gates.json is an
 * example for the simulator's models.
 *
 * The parser is strict because the gate fails closed: a misspelt bound (`"mn"`), a bound with no
 * limit or a model with no metrics would otherwise check nothing and pass everything.
 */
import { z } from 'zod';
import { ConfigurationError } from '../errors.js';

/** One metric's limits; at least one is set. `maxDrop` assumes higher is better. */
export interface MetricBound {
  readonly min?: number;
  readonly max?: number;
  /** The largest fall allowed from the last passing evaluation of the same model and dataset. */
  readonly maxDrop?: number;
}

export interface ModelRules {
  /** `name@version` of the held-out set the latest evaluation must have used. */
  readonly dataset: string;
  /** The latest evaluation may be at most this old at the instant judged. */
  readonly maxAgeHours: number;
  /** At least one metric; every one named must be in the evaluation. */
  readonly metrics: Readonly<Record<string, MetricBound>>;
}

export interface GateRules {
  /** By model name; `*` applies to a model without its own entry. */
  readonly models: Readonly<Record<string, ModelRules>>;
}

/** The entry that applies to any model without its own. */
export const ANY_MODEL = '*';

const BOUND_KEYS = ['min', 'max', 'maxDrop'] as const;

/** The message for a field: `is required` when absent, else what it must be. */
function expected(field: string, rule: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? `${field} is required` : `${field} must be ${rule}`;
}

function finite(field: string, rule = 'a finite number') {
  return z
    .number({ error: expected(field, rule) })
    .refine(Number.isFinite, { error: `${field} must be ${rule}` });
}

function name(kind: string) {
  return z.string().min(1, { error: `a ${kind} name must not be empty` });
}

const boundSchema = z
  .strictObject(
    {
      min: finite('min').optional(),
      max: finite('max').optional(),
      maxDrop: finite('maxDrop', 'a number >= 0')
        .refine((n) => n >= 0, { error: 'maxDrop must be a number >= 0' })
        .optional(),
    },
    { error: 'a bound must be an object with min, max or maxDrop' },
  )
  .superRefine((bound, ctx) => {
    if (bound.min === undefined && bound.max === undefined && bound.maxDrop === undefined)
      ctx.addIssue({ code: 'custom', message: 'needs at least one of min, max, maxDrop' });
    if (bound.min !== undefined && bound.max !== undefined && bound.min > bound.max)
      ctx.addIssue({ code: 'custom', message: `min ${bound.min} must be <= max ${bound.max}` });
  });

const modelSchema = z.strictObject(
  {
    // A note for the reader of the file; the gate ignores it.
    $comment: z.string({ error: '$comment must be a string' }).optional(),
    dataset: z
      .string({ error: expected('dataset', 'a string name@version') })
      .regex(/^[^@\s]+@[^@\s]+$/, { error: 'dataset must be name@version' }),
    maxAgeHours: finite('maxAgeHours', 'a number > 0').refine((n) => n > 0, {
      error: 'maxAgeHours must be a number > 0',
    }),
    metrics: z
      .record(name('metric'), boundSchema, {
        error: expected('metrics', 'an object of metric name to bounds'),
      })
      .refine((metrics) => Object.keys(metrics).length > 0, {
        error: 'metrics must name at least one metric (a gate that checks nothing would pass everything)',
      }),
  },
  { error: 'a model entry must be an object with dataset, maxAgeHours and metrics' },
);

const rulesSchema = z.strictObject(
  {
    $comment: z.string({ error: '$comment must be a string' }).optional(),
    models: z.record(name('model'), modelSchema, {
      error: expected('models', 'an object of model name to rules'),
    }),
  },
  { error: 'the rules must be a JSON object with "models"' },
);

/** Keys of an object the schema knows; a message about one of them names it itself. */
const FIELDS = new Set<string>(['$comment', 'models', 'dataset', 'maxAgeHours', 'metrics', ...BOUND_KEYS]);

/**
 * Validates a rules file's decoded JSON. Throws ConfigurationError naming where the first problem
 * is and what is wrong, e.g. `models.llama-3-8b.metrics.f1: maxDrop must be a number >= 0`.
 */
export function parseGateRules(value: unknown): GateRules {
  const proto = protoKeyPath(value, []);
  // zod leaves a `__proto__` key out of a record, silently: a bound that checks nothing.
  if (proto !== undefined) throw new ConfigurationError(`gate rules: ${proto}: a name must not be __proto__`);
  const parsed = rulesSchema.safeParse(value);
  if (!parsed.success) throw new ConfigurationError(`gate rules: ${describe(parsed.error.issues)}`);
  const models: Record<string, ModelRules> = {};
  for (const [model, entry] of Object.entries(parsed.data.models)) {
    const metrics: Record<string, MetricBound> = {};
    for (const [metric, bound] of Object.entries(entry.metrics)) metrics[metric] = copyBound(bound);
    models[model] = { dataset: entry.dataset, maxAgeHours: entry.maxAgeHours, metrics };
  }
  return { models };
}

/** The model's own entry, else the `*` entry, else undefined. */
export function rulesFor(rules: GateRules, model: string): ModelRules | undefined {
  if (Object.hasOwn(rules.models, model)) return rules.models[model];
  return Object.hasOwn(rules.models, ANY_MODEL) ? rules.models[ANY_MODEL] : undefined;
}

/** The models named in the rules (not `*`), sorted. */
export function gatedModels(rules: GateRules): string[] {
  return Object.keys(rules.models)
    .filter((name) => name !== ANY_MODEL)
    .sort();
}

function copyBound(bound: MetricBound): MetricBound {
  const copy: { min?: number; max?: number; maxDrop?: number } = {};
  for (const key of BOUND_KEYS) if (bound[key] !== undefined) copy[key] = bound[key];
  return copy;
}

/** Where the decoded JSON holds an own `__proto__` key (JSON.parse makes one), if anywhere. */
function protoKeyPath(value: unknown, path: readonly string[]): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (Object.hasOwn(value, '__proto__')) return path.length === 0 ? '(top level)' : path.join('.');
  for (const [key, inner] of Object.entries(value)) {
    const found = protoKeyPath(inner, [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

function describe(issues: readonly z.core.$ZodIssue[]): string {
  const issue = issues[0];
  if (issue === undefined) return 'invalid';
  let path = issue.path.map(String);
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    const known = path.at(-2) === 'metrics' ? ' (a bound is min, max or maxDrop)' : '';
    message = `unknown key${issue.keys.length === 1 ? '' : 's'} ${keys}${known}`;
  } else if (issue.code === 'invalid_key') {
    // A bad name: say which rule it breaks, at the record that holds it.
    path = path.slice(0, -1);
    message = issue.issues[0]?.message ?? message;
  }
  // The field's own name is in its message ("maxDrop must be ..."), so the path ends at its owner.
  if (FIELDS.has(path.at(-1) ?? '') && message.startsWith(`${path.at(-1) ?? ''} `)) path = path.slice(0, -1);
  return path.length === 0 ? message : `${path.join('.')}: ${message}`;
}
