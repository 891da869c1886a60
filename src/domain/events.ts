import { z } from 'zod';
import { parseTimestamp, type Micros } from './timestamp.js';
import { hasControlCharacter, MAX_LABEL, readLabel } from './text.js';

/** Schema version 1 events of contracts.md §2, parsed into plain values with instants in microseconds. */

function required(kind: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${kind}`);
}

/**
 * A name the reports group by, under the one text rule (text.ts, readLabel): refused characters and
 * edge whitespace are rejections, and the value kept is the NFC form, so `école` sent precomposed
 * by one client and decomposed by another is one tenant. The fast path (fast-parse.ts) agrees; the
 * sidecar's key map and settings use this schema too.
 */
export function nameSchema(max: number = MAX_LABEL) {
  return z.string({ error: required('a string') }).transform((value, ctx) => {
    const read = readLabel(value, max);
    if ('error' in read) {
      ctx.addIssue({ code: 'custom', message: read.error });
      return z.NEVER;
    }
    return read.value;
  });
}

/** Tenant and feature: 1 to 128 characters (contracts.md §2). */
const label = nameSchema(MAX_LABEL);
/** Model, request class and pod: the same rule, with no length limit of their own (contracts.md §2). */
const nameText = nameSchema(Number.POSITIVE_INFINITY);

/** The eventId is the de-duplication key: checked, never rewritten (normalising could merge two). */
const identifier = z
  .string({ error: required('a string') })
  .min(1, { error: 'must not be empty' })
  .max(128, { error: 'must be at most 128 characters' })
  .refine((value) => !hasControlCharacter(value), { error: 'must not contain control characters' });

const text = z.string({ error: required('a string') }).min(1, { error: 'must not be empty' });

const timestamp = z.string({ error: required('an ISO-8601 timestamp') }).transform((value, ctx): Micros => {
  const micros = parseTimestamp(value);
  if (micros === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 timestamp with Z or an offset' });
    return z.NEVER;
  }
  return micros;
});

const count = z
  .number({ error: required('an integer >= 0') })
  .int({ error: 'must be an integer >= 0' })
  .min(0, { error: 'must be an integer >= 0' });

const header = {
  schemaVersion: z.literal(1, { error: 'must be 1' }),
  eventId: identifier,
};

const podIdentity = {
  pod: nameText,
  gpuSku: text,
  gpuCount: z
    .number({ error: required('an integer >= 1') })
    .int({ error: 'must be an integer >= 1' })
    .min(1, { error: 'must be an integer >= 1' }),
  model: nameText,
};

export const usageEventSchema = z
  .looseObject({
    type: z.literal('usage'),
    ...header,
    requestId: z.string({ error: required('a string') }),
    tenant: label,
    feature: label,
    requestClass: nameText,
    ...podIdentity,
    startedAt: timestamp,
    firstTokenAt: z.union([timestamp, z.null()], { error: 'must be an ISO-8601 timestamp or null' }),
    finishedAt: timestamp,
    promptTokens: count,
    completionTokens: count,
    cachedPromptTokens: count.optional(),
    queueMs: z
      .number({ error: 'must be a number >= 0' })
      .min(0, { error: 'must be a number >= 0' })
      .refine(Number.isFinite, { error: 'must be finite' })
      .optional(),
    status: z.enum(['ok', 'error', 'aborted'], { error: 'must be one of ok, error, aborted' }),
    httpStatus: z.number().int({ error: 'must be an integer' }).optional(),
    attributes: z
      .record(z.string(), z.string(), { error: 'must be an object of string to string' })
      .optional(),
  })
  .superRefine((event, ctx) => {
    if (event.finishedAt < event.startedAt) {
      ctx.addIssue({ code: 'custom', path: ['finishedAt'], message: 'must not be before startedAt' });
    }
    const first = event.firstTokenAt;
    if (first !== null && (first < event.startedAt || first > event.finishedAt)) {
      ctx.addIssue({
        code: 'custom',
        path: ['firstTokenAt'],
        message: 'must lie between startedAt and finishedAt',
      });
    }
    if (event.cachedPromptTokens !== undefined && event.cachedPromptTokens > event.promptTokens) {
      ctx.addIssue({ code: 'custom', path: ['cachedPromptTokens'], message: 'must not exceed promptTokens' });
    }
  });

export const capacityEventSchema = z
  .looseObject({
    type: z.literal('capacity'),
    ...header,
    ...podIdentity,
    windowStart: timestamp,
    windowEnd: timestamp,
  })
  .superRefine((event, ctx) => {
    if (event.windowEnd <= event.windowStart) {
      ctx.addIssue({ code: 'custom', path: ['windowEnd'], message: 'must be after windowStart' });
    }
  });

export const evaluationEventSchema = z.looseObject({
  type: z.literal('evaluation'),
  ...header,
  model: text,
  modelVersion: text,
  dataset: text,
  metrics: z.record(
    z.string(),
    z
      .number({ error: 'must be a finite number' })
      .refine(Number.isFinite, { error: 'must be a finite number' }),
    { error: 'must be an object of string to finite number' },
  ),
  evaluatedAt: timestamp,
  commit: z.string().optional(),
});

const eventSchema = z.discriminatedUnion(
  'type',
  [usageEventSchema, capacityEventSchema, evaluationEventSchema],
  {
    error: (issue) =>
      issue.input === undefined ? 'is required' : 'must be one of "usage", "capacity", "evaluation"',
  },
);

export type UsageEvent = z.output<typeof usageEventSchema>;
export type CapacityEvent = z.output<typeof capacityEventSchema>;
export type EvaluationEvent = z.output<typeof evaluationEventSchema>;
export type Event = UsageEvent | CapacityEvent | EvaluationEvent;

export type ParseResult = { ok: true; event: Event } | { ok: false; reason: string };

/**
 * Validates one decoded JSON value against contracts.md §2. The reason names every field that is
 * wrong and the rule it breaks, e.g. `tenant: must not contain U+202E (bidirectional control)`.
 */
export function parseEvent(value: unknown): ParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'event must be a JSON object' };
  }
  const result = eventSchema.safeParse(value);
  if (result.success) return { ok: true, event: result.data };
  return { ok: false, reason: describeIssues(result.error.issues) };
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path === '' ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
}
