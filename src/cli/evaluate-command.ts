import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EvaluationHubSink, type EvaluationHub } from '../adapters/event-hubs/evaluation-hub-sink.js';
import { OpenAiEndpoint } from '../adapters/openai/openai-endpoint.js';
import { parseCases } from '../domain/evaluation/cases.js';
import { evaluationEvent } from '../domain/evaluation/event.js';
import type { CaseResult } from '../domain/evaluation/results.js';
import { datasetOf, parseManifest } from '../domain/evaluation/suite.js';
import { ConfigurationError } from '../domain/errors.js';
import type { EvaluationSink } from '../ports/evaluation-sink.js';
import {
  DEFAULT_LIMITS,
  runSuite,
  type RunLimits,
  type SuiteToRun,
} from '../usecases/evaluation/run-suite.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

/** The environment `--send` and the endpoint read (docs/cli.md, evaluate). */
export const EVALUATE_ENV = {
  namespace: 'EVENTHUB_FULLY_QUALIFIED_NAMESPACE',
  connectionString: 'EVENTHUB_CONNECTION_STRING',
  hubName: 'EVALUATIONS_EVENTHUB_NAME',
  apiKey: 'EVALUATE_API_KEY',
} as const;

export const EVALUATE_HELP = `Usage: chargeback evaluate --endpoint URL --model NAME --suite DIR [--out FILE] [--send]
       [--model-version V] [--commit SHA] [--concurrency N] [--rate N] [--timeout SECONDS] [--attempts N]

Runs a regression suite (DIR/suite.json and DIR/cases.jsonl) through an OpenAI-compatible endpoint,
normally the usage sidecar in front of vLLM, charged to the tenant and feature the suite names;
scores every case and makes one evaluation event whose dataset is the suite's name@version.
  --endpoint URL       the server's base URL (http://host:port or .../v1)
  --model NAME         the served model name; the suite must list it
  --suite DIR          the suite's folder
  --out FILE           write the event (one JSON line) to FILE and each case's result to
                       FILE without .ndjson/.json/.jsonl, plus .cases.ndjson
  --send               send the event to the evaluations hub (${EVALUATE_ENV.connectionString}, or
                       ${EVALUATE_ENV.namespace} with Azure credentials; hub name
                       ${EVALUATE_ENV.hubName}, default evaluations)
  --model-version V    the event's modelVersion (default: read from the endpoint's GET /v1/models,
                       the last part of the model's root /models/registry/<model>/<version>)
  --commit SHA         the code revision evaluated, recorded in the event
  --concurrency N      cases in flight at once (default ${DEFAULT_LIMITS.concurrency})
  --rate N             attempts started per second, retries included (default ${DEFAULT_LIMITS.requestsPerSecond})
  --timeout SECONDS    one attempt's longest time (default ${DEFAULT_LIMITS.timeoutMs / 1000})
  --attempts N         tries per case on 429, 5xx, timeouts and dropped connections (default ${DEFAULT_LIMITS.attempts})
An API key for the endpoint, when it needs one, is read from ${EVALUATE_ENV.apiKey}.
With neither --out nor --send the event is printed on stdout.
Exit 0 when every case completed (whatever the scores), 1 when a case could not be completed (the
event says so: completed < 1) or sending failed, 2 on bad arguments or an unreadable suite.`;

export interface EvaluateOptions {
  readonly endpoint: URL;
  readonly model: string;
  readonly suiteDir: string;
  readonly out?: string;
  readonly send: boolean;
  readonly modelVersion?: string;
  readonly commit?: string;
  readonly limits: RunLimits;
}

function positive(
  name: string,
  text: string | boolean | undefined,
  fallback: number,
  integer: boolean,
): number {
  if (typeof text !== 'string') return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new UsageError(`--${name} must be a ${integer ? 'whole number' : 'number'} > 0, got "${text}"`);
  return n;
}

export function parseEvaluateArgs(args: readonly string[]): EvaluateOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    endpoint: { type: 'string' },
    model: { type: 'string' },
    suite: { type: 'string' },
    out: { type: 'string' },
    send: { type: 'boolean' },
    'model-version': { type: 'string' },
    commit: { type: 'string' },
    concurrency: { type: 'string' },
    rate: { type: 'string' },
    timeout: { type: 'string' },
    attempts: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  for (const name of ['endpoint', 'model', 'suite'] as const)
    if (typeof values[name] !== 'string' || values[name] === '')
      throw new UsageError(
        `evaluate needs --${name} ${name === 'suite' ? 'DIR' : name === 'model' ? 'NAME' : 'URL'}`,
      );
  let endpoint: URL;
  try {
    endpoint = new URL(String(values.endpoint));
  } catch {
    throw new UsageError(`--endpoint must be an http(s) URL, got "${String(values.endpoint)}"`);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')
    throw new UsageError(`--endpoint must be an http(s) URL, got "${String(values.endpoint)}"`);
  const text = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);
  const out = text(values.out);
  const modelVersion = text(values['model-version']);
  const commit = text(values.commit);
  return {
    endpoint,
    model: String(values.model),
    suiteDir: String(values.suite),
    ...(out === undefined ? {} : { out }),
    send: values.send === true,
    ...(modelVersion === undefined ? {} : { modelVersion }),
    ...(commit === undefined ? {} : { commit }),
    limits: {
      ...DEFAULT_LIMITS,
      concurrency: positive('concurrency', values.concurrency, DEFAULT_LIMITS.concurrency, true),
      requestsPerSecond: positive('rate', values.rate, DEFAULT_LIMITS.requestsPerSecond, false),
      timeoutMs: positive('timeout', values.timeout, DEFAULT_LIMITS.timeoutMs / 1000, false) * 1000,
      attempts: positive('attempts', values.attempts, DEFAULT_LIMITS.attempts, true),
    },
  };
}

/** Reads DIR/suite.json and DIR/cases.jsonl; an error names the file, the line and the field. */
export async function readSuite(dir: string): Promise<SuiteToRun> {
  const manifestPath = join(dir, 'suite.json');
  const casesPath = join(dir, 'cases.jsonl');
  const read = async (path: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw new ConfigurationError(`--suite ${dir}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  try {
    const manifest = parseManifest(await read(manifestPath), manifestPath);
    return { manifest, cases: parseCases(await read(casesPath), casesPath, manifest) };
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(`--suite: ${(error as Error).message}`);
  }
}

/** The evaluations hub from the environment; a ConfigurationError naming the variables when absent. */
export function evaluationHubOf(env: Record<string, string | undefined>): EvaluationHub {
  const name = env[EVALUATE_ENV.hubName] ?? 'evaluations';
  const connectionString = env[EVALUATE_ENV.connectionString];
  if (connectionString !== undefined && connectionString !== '')
    return { kind: 'connection-string', connectionString, name };
  const namespace = env[EVALUATE_ENV.namespace];
  if (namespace !== undefined && namespace !== '') return { kind: 'identity', namespace, name };
  throw new ConfigurationError(
    `--send needs ${EVALUATE_ENV.namespace} (Azure credentials, e.g. workload identity) or ${EVALUATE_ENV.connectionString}`,
  );
}

/** The cases file beside `--out FILE`: its extension replaced by `.cases.ndjson`. */
export function casesPathOf(out: string): string {
  return `${out.replace(/\.(ndjson|jsonl|json)$/, '')}.cases.ndjson`;
}

export interface EvaluateDeps {
  readonly env: Record<string, string | undefined>;
  readonly now?: () => Date;
  /** Builds the sink for `--send` (tests pass a double; Event Hubs cannot run here). */
  readonly sinkFor?: (hub: EvaluationHub) => EvaluationSink;
}

export interface EvaluateOutcome {
  readonly event: Record<string, unknown>;
  readonly results: readonly CaseResult[];
  readonly files: readonly string[];
  readonly sent: boolean;
  /** Why sending failed, when it did. */
  readonly sendError?: string;
  readonly code: 0 | 1;
}

export async function runEvaluate(options: EvaluateOptions, deps: EvaluateDeps): Promise<EvaluateOutcome> {
  const suite = await readSuite(options.suiteDir);
  const { manifest } = suite;
  if (!manifest.models.includes(options.model))
    throw new UsageError(
      `--model ${options.model}: suite ${datasetOf(manifest)} is for ${manifest.models.join(', ')}, not this model`,
    );
  // Refused before any case runs, so a misconfigured --send costs no GPU time.
  const sink = options.send
    ? (deps.sinkFor ?? ((hub) => EvaluationHubSink.connect(hub)))(evaluationHubOf(deps.env))
    : undefined;
  const apiKey = deps.env[EVALUATE_ENV.apiKey];
  const endpoint = new OpenAiEndpoint({
    baseUrl: options.endpoint,
    ...(apiKey === undefined || apiKey === '' ? {} : { apiKey }),
  });
  // Read before any case runs: an evaluation the gate cannot place on a version costs no GPU time.
  const modelVersion = options.modelVersion ?? (await servedVersion(endpoint, options));
  const runId = randomUUID();
  const results = await runSuite(suite, options.model, options.limits, {
    endpoint,
    now: () => performance.now(),
    sleep: (ms) => sleep(ms),
    requestId: (caseId, attempt) => `eval-${runId.slice(0, 8)}-${caseId}-${attempt}`,
  });
  const event = evaluationEvent(
    {
      eventId: `evaluation-${runId}`,
      model: options.model,
      modelVersion,
      dataset: datasetOf(manifest),
      evaluatedAt: (deps.now ?? (() => new Date()))().toISOString(),
      ...(options.commit === undefined ? {} : { commit: options.commit }),
      tenant: manifest.tenant,
      feature: manifest.feature,
    },
    results,
  );
  const files = options.out === undefined ? [] : await writeRun(options.out, event, results);
  let sendError: string | undefined;
  if (sink !== undefined) {
    try {
      await sink.send(event);
    } catch (error) {
      sendError = (error as Error).message;
    } finally {
      await sink.close();
    }
  }
  const complete = results.every((r) => r.status === 'completed');
  return {
    event,
    results,
    files,
    sent: sink !== undefined && sendError === undefined,
    ...(sendError === undefined ? {} : { sendError }),
    code: complete && sendError === undefined ? 0 : 1,
  };
}

async function writeRun(
  out: string,
  event: Record<string, unknown>,
  results: readonly CaseResult[],
): Promise<string[]> {
  const casesPath = casesPathOf(out);
  const write = async (path: string, text: string): Promise<void> => {
    const partial = `${path}.${process.pid}.partial`;
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(partial, text, 'utf8');
      await rename(partial, path);
    } catch (error) {
      throw new UsageError(`cannot write --out ${path}: ${(error as Error).message}`);
    }
  };
  // The cases first: an event on disk always has its explanation beside it.
  await write(casesPath, results.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await write(out, `${JSON.stringify(event)}\n`);
  return [out, casesPath];
}

/** The lines the command prints: the run's figures, then each case that was not completed. */
export function evaluateSummary(outcome: EvaluateOutcome): { stdout: string[]; stderr: string[] } {
  const metrics = outcome.event.metrics as Record<string, number>;
  const figures = Object.entries(metrics)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(4)}`)
    .join(' ');
  const missing = outcome.results.filter((r) => r.status !== 'completed');
  const stdout = [
    ...outcome.files.map((f) => `wrote ${f}`),
    ...(outcome.sent ? ['sent the evaluation event to the evaluations hub'] : []),
    `${String(outcome.event.dataset)} on ${String(outcome.event.model)}: ${figures}`,
  ];
  const stderr = [
    ...(missing.length === 0
      ? []
      : [
          `evaluate: a partial run, ${missing.length} of ${outcome.results.length} case(s) not completed: ` +
            missing
              .slice(0, 5)
              .map((r) => `${r.id} (${r.failures[0] ?? ''})`)
              .join('; '),
        ]),
    ...(outcome.sendError === undefined ? [] : [`evaluate: sending the event failed: ${outcome.sendError}`]),
  ];
  return { stdout, stderr };
}

/**
 * The version the endpoint serves `--model` at: vLLM's GET /v1/models gives each served name's
 * `root`, the path it was loaded from, and a version's weights are at /models/registry/<model>/<version>
 * (docs/promotion.md). Anything else leaves the version unknown: a usage error naming the flag.
 */
async function servedVersion(endpoint: OpenAiEndpoint, options: EvaluateOptions): Promise<string> {
  const unknown = (why: string): UsageError =>
    new UsageError(
      `--model-version is needed: the version of ${options.model} served at ${options.endpoint.href} cannot be read (${why})`,
    );
  let served: Awaited<ReturnType<OpenAiEndpoint['servedModels']>>;
  try {
    served = await endpoint.servedModels();
  } catch (error) {
    throw unknown((error as Error).message);
  }
  const entry = served.find((m) => m.id === options.model);
  if (entry === undefined) throw unknown(`GET /v1/models does not list ${options.model}`);
  if (entry.root === undefined) throw unknown(`GET /v1/models gives no root for ${options.model}`);
  const version = versionFromRoot(options.model, entry.root);
  if (version === undefined)
    throw unknown(`its root ${entry.root} is not /models/registry/${options.model}/<version>`);
  return version;
}

/** `<version>` of a root `.../registry/<model>/<version>[/]`, or undefined. */
export function versionFromRoot(model: string, root: string): string | undefined {
  const parts = root.replace(/\/+$/, '').split('/');
  const version = parts.at(-1);
  if (parts.length < 3 || parts.at(-2) !== model || parts.at(-3) !== 'registry') return undefined;
  return version === undefined || version === '' ? undefined : version;
}
