/**
 * A suite's cases, `cases.jsonl` (contracts.md §13): one JSON object a line, each an `id`, its input
 * (`input`, which fills the prompt template, or `messages`, sent as they are after the template's
 * system message), and what a good answer is (`expected`) or must satisfy (`checks`). Every check
 * needs its scorer in the manifest, and every scorer some case to score, so a suite cannot claim
 * a metric it never measures. Errors name the file, the line and the field.
 */
import { z } from 'zod';
import { readJsonSchema, type JsonSchema } from './json-schema.js';
import { INPUT_PLACEHOLDER, type SuiteManifest } from './suite.js';
import { issueText } from './zod-issues.js';

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface CaseChecks {
  readonly mustMatch: readonly RegExp[];
  readonly mustNotMatch: readonly RegExp[];
  /** The answer must be JSON (and conform to `schema` when one applies). */
  readonly json: boolean;
  readonly schema?: JsonSchema;
  /** The answer should be a refusal (default: it should not). */
  readonly refuse: boolean;
}

export interface SuiteCase {
  readonly id: string;
  /** 1-based line of cases.jsonl, for messages. */
  readonly line: number;
  readonly input?: string;
  readonly messages?: readonly ChatMessage[];
  /** Acceptable answers; absent when the case has checks only. */
  readonly expected?: readonly string[];
  readonly checks: CaseChecks;
}

const nonEmpty = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });
const pattern = nonEmpty.transform((source, ctx) => {
  try {
    return new RegExp(source, 'u');
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression (${(error as Error).message})` });
    return z.NEVER;
  }
});

const caseSchema = z
  .strictObject(
    {
      id: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9._:-]{1,128}$/, {
        error: 'must be 1 to 128 letters, digits, ".", "_", ":" or "-"',
      }),
      input: z.string({ error: 'must be a string' }).optional(),
      messages: z
        .array(
          z.strictObject({
            role: z.enum(['system', 'user', 'assistant'], {
              error: 'must be "system", "user" or "assistant"',
            }),
            content: z.string({ error: 'must be a string' }),
          }),
          { error: 'must be a list of {role, content}' },
        )
        .min(1, { error: 'must hold at least one message' })
        .refine((m) => m.at(-1)?.role === 'user', { error: "the last message must be the user's" })
        .optional(),
      expected: z
        .union([nonEmpty, z.array(nonEmpty).min(1)], {
          error: 'must be a string or a non-empty list of strings',
        })
        .optional(),
      checks: z
        .strictObject({
          mustMatch: z.array(pattern).optional(),
          mustNotMatch: z.array(pattern).optional(),
          json: z.boolean({ error: 'must be true or false' }).optional(),
          schema: z.unknown().optional(),
          refuse: z.boolean({ error: 'must be true or false' }).optional(),
        })
        .optional(),
    },
    { error: 'must be a JSON object' },
  )
  .refine((c) => (c.input === undefined) !== (c.messages === undefined), {
    error: 'needs exactly one of input and messages',
  });

/** Parses cases.jsonl against its manifest; throws an Error naming `file:line: field`. */
export function parseCases(text: string, file: string, manifest: SuiteManifest): SuiteCase[] {
  const cases: SuiteCase[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const where = `${file}:${line}`;
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
    }
    const parsed = caseSchema.safeParse(value);
    if (!parsed.success) throw new Error(`${where}: ${issueText(parsed.error.issues)}`);
    const c = parsed.data;
    const earlier = seen.get(c.id);
    if (earlier !== undefined)
      throw new Error(`${where}: id: "${c.id}" is already the id of line ${earlier}`);
    seen.set(c.id, line);
    let schema: JsonSchema | undefined;
    if (c.checks?.schema !== undefined) {
      const read = readJsonSchema(c.checks.schema, 'checks.schema');
      if ('error' in read) throw new Error(`${where}: ${read.error}`);
      schema = read;
    }
    const suiteCase: SuiteCase = {
      id: c.id,
      line,
      ...(c.input === undefined ? {} : { input: c.input }),
      ...(c.messages === undefined ? {} : { messages: c.messages }),
      ...(c.expected === undefined
        ? {}
        : { expected: typeof c.expected === 'string' ? [c.expected] : c.expected }),
      checks: {
        mustMatch: c.checks?.mustMatch ?? [],
        mustNotMatch: c.checks?.mustNotMatch ?? [],
        json: c.checks?.json === true || schema !== undefined,
        ...(schema === undefined ? {} : { schema }),
        refuse: c.checks?.refuse === true,
      },
    };
    const mismatch = checkAgainstManifest(suiteCase, manifest);
    if (mismatch !== undefined) throw new Error(`${where}: ${mismatch}`);
    cases.push(suiteCase);
  }
  if (cases.length === 0) throw new Error(`${file}: holds no cases`);
  const unused = unusedScorer(cases, manifest);
  if (unused !== undefined) throw new Error(`${file}: ${unused}`);
  return cases;
}

/** What a case asks for that the manifest cannot give it, if anything. */
function checkAgainstManifest(c: SuiteCase, m: SuiteManifest): string | undefined {
  const s = m.scorers;
  if (c.input !== undefined && !m.prompt.template.includes(INPUT_PLACEHOLDER))
    return `input: the prompt template has no ${INPUT_PLACEHOLDER} to put it in`;
  if (c.messages !== undefined && m.api === 'completions')
    return 'messages: the suite\'s api is "completions", which takes a prompt: use input';
  if (c.expected !== undefined && s.exact_match === undefined && s.f1 === undefined)
    return 'expected: needs the exact_match or f1 scorer in the manifest';
  if ((c.checks.mustMatch.length > 0 || c.checks.mustNotMatch.length > 0) && s.regex === undefined)
    return 'checks: mustMatch and mustNotMatch need the regex scorer in the manifest';
  if (c.checks.json && s.json === undefined)
    return 'checks: json and schema need the json scorer in the manifest';
  if (c.checks.refuse && s.refusal === undefined)
    return 'checks.refuse: needs the refusal scorer in the manifest';
  return undefined;
}

/** A scorer of the manifest that no case gives anything to score. */
function unusedScorer(cases: readonly SuiteCase[], m: SuiteManifest): string | undefined {
  const s = m.scorers;
  const any = (f: (c: SuiteCase) => boolean): boolean => cases.some(f);
  if ((s.exact_match !== undefined || s.f1 !== undefined) && !any((c) => c.expected !== undefined))
    return 'the exact_match and f1 scorers need at least one case with expected';
  if (s.regex !== undefined && !any((c) => c.checks.mustMatch.length + c.checks.mustNotMatch.length > 0))
    return 'the regex scorer needs at least one case with checks.mustMatch or checks.mustNotMatch';
  if (s.json !== undefined && !any((c) => c.checks.json))
    return 'the json scorer needs at least one case with checks.json or checks.schema';
  return undefined;
}
