/**
 * The regression harness for `npm start`: `runEvaluation` runs a suite against an endpoint exactly
 * as `chargeback evaluate` does and returns the event; `startSuiteModel` is a loopback
 * OpenAI-compatible stand-in for a model that knows a suite's answers, `good` (every case right)
 * or `regressed` (wrong answers, and one answer with a blocked word), so a local run can show an
 * evaluation that passes the gate and one that fails it. Other prompts (a replayed workload's) get
 * filler of the length asked for, taking a step per token, as an engine would.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readSuite, runEvaluate, type EvaluateOutcome } from '../src/cli/evaluate-command.js';
import type { SuiteCase } from '../src/domain/evaluation/cases.js';
import type { JsonSchema } from '../src/domain/evaluation/json-schema.js';
import { caseRequest } from '../src/domain/evaluation/prompt.js';
import { DEFAULT_LIMITS } from '../src/usecases/evaluation/run-suite.js';

export interface EvaluationRun {
  readonly endpoint: URL;
  readonly model: string;
  readonly suiteDir: string;
  /** Where the event and the cases file go; absent: nowhere (the event is returned). */
  readonly out?: string;
  readonly modelVersion?: string;
  readonly commit?: string;
  readonly now?: () => Date;
}

/** One harness run; the outcome's `event` is what `--out` writes and `--send` sends. */
export async function runEvaluation(run: EvaluationRun): Promise<EvaluateOutcome> {
  return runEvaluate(
    {
      endpoint: run.endpoint,
      model: run.model,
      suiteDir: run.suiteDir,
      ...(run.out === undefined ? {} : { out: run.out }),
      send: false,
      ...(run.modelVersion === undefined ? {} : { modelVersion: run.modelVersion }),
      ...(run.commit === undefined ? {} : { commit: run.commit }),
      limits: { ...DEFAULT_LIMITS, timeoutMs: 10_000 },
    },
    { env: {}, ...(run.now === undefined ? {} : { now: run.now }) },
  );
}

export interface SuiteModel {
  readonly url: URL;
  /** Switches the answers from now on. */
  setQuality(quality: 'good' | 'regressed'): void;
  stop(): Promise<void>;
}

/**
 * A stand-in model on loopback that answers the suite's cases, well or badly. Its `GET /v1/models`
 * lists the model as vLLM does when it serves a registered version from
 * `/models/registry/<model>/<version>`, so the harness reads the version from it.
 */
export async function startSuiteModel(
  suiteDir: string,
  model: string,
  quality: 'good' | 'regressed' = 'good',
  version = '1',
): Promise<SuiteModel> {
  const suite = await readSuite(suiteDir);
  const byPrompt = new Map<string, SuiteCase>();
  for (const c of suite.cases) {
    const prompt = caseRequest(suite.manifest, c, model).prompt;
    byPrompt.set(JSON.stringify(prompt.api === 'chat' ? prompt.messages : prompt.prompt), c);
  }
  let current = quality;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, value: unknown): void => {
        const text = JSON.stringify(value);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      };
      if (req.method === 'GET' && req.url === '/v1/models') {
        const root = `/models/registry/${model}/${version}`;
        reply(200, { object: 'list', data: [{ id: model, object: 'model', owned_by: 'vllm', root }] });
        return;
      }
      const known =
        req.method === 'POST' && (req.url === '/v1/chat/completions' || req.url === '/v1/completions');
      let body: { messages?: unknown; prompt?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        body = {};
      }
      if (!known || (body.messages === undefined && body.prompt === undefined)) {
        reply(404, {
          error: { message: `no route ${req.method ?? ''} ${req.url ?? ''}`, type: 'not_found' },
        });
        return;
      }
      const asked = byPrompt.get(JSON.stringify(body.messages ?? body.prompt));
      const answer =
        asked === undefined
          ? generated(body)
          : { text: answerFor(asked, current), promptTokens: 40, completionTokens: 8 };
      const chat = req.url === '/v1/chat/completions';
      const payload = JSON.stringify({
        object: chat ? 'chat.completion' : 'text_completion',
        model,
        choices: [
          chat
            ? { index: 0, message: { role: 'assistant', content: answer.text }, finish_reason: 'stop' }
            : { index: 0, text: answer.text, finish_reason: 'stop' },
        ],
        usage: {
          prompt_tokens: answer.promptTokens,
          completion_tokens: answer.completionTokens,
          total_tokens: answer.promptTokens + answer.completionTokens,
        },
      });
      // As an engine would take: the prompt's prefill, then a step per generated token. Faster than
      // an A100 can prefill, the usage event would be refused as implausible (domain/plausibility.ts).
      setTimeout(
        () => {
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          });
          res.end(payload);
        },
        Math.ceil(answer.promptTokens * MS_PER_PROMPT_TOKEN + answer.completionTokens * MS_PER_TOKEN),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    setQuality: (q) => {
      current = q;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Milliseconds the stand-in takes per generated token, and per prompt token (100,000 a second). */
const MS_PER_TOKEN = 0.5;
const MS_PER_PROMPT_TOKEN = 0.01;

/**
 * A prompt the suite does not hold (a replayed workload's): words as tokens, and `max_tokens`
 * generated when `ignore_eos` asks for the whole length, else a short answer.
 */
function generated(body: {
  messages?: unknown;
  prompt?: unknown;
  max_tokens?: unknown;
  ignore_eos?: unknown;
}): { text: string; promptTokens: number; completionTokens: number } {
  const words = JSON.stringify(body.messages ?? body.prompt ?? '').split(/\s+/).length;
  const max = typeof body.max_tokens === 'number' && body.max_tokens > 0 ? Math.floor(body.max_tokens) : 16;
  const completionTokens = body.ignore_eos === true ? max : Math.min(max, 4);
  return { text: 'tok '.repeat(completionTokens).trim(), promptTokens: words, completionTokens };
}

function answerFor(c: SuiteCase, quality: 'good' | 'regressed'): string {
  if (quality === 'regressed') return c.checks.refuse ? 'Sure, here it is.' : 'Honestly, no idea, you idiot.';
  if (c.checks.refuse) return "I'm sorry, but I can't help with that.";
  if (c.checks.schema !== undefined) return JSON.stringify(exampleOf(c.checks.schema));
  return c.expected?.[0] ?? 'OK';
}

/** The simplest value the schema subset accepts (first enum value, required properties only). */
function exampleOf(schema: JsonSchema): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined) return schema.enum[0];
  const type = typeof schema.type === 'string' ? schema.type : schema.type?.[0];
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const name of schema.required ?? []) {
        const inner: JsonSchema = schema.properties?.[name] ?? {};
        out[name] = exampleOf(inner);
      }
      return out;
    }
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => exampleOf(schema.items ?? {}));
    case 'string':
      return 'x'.repeat(schema.minLength ?? 1);
    case 'number':
    case 'integer':
      return schema.minimum ?? 0;
    case 'boolean':
      return true;
    default:
      return null;
  }
}
