/**
 * `chargeback promote` (contracts.md §16): decides whether a registered candidate version goes into
 * service, from its evaluation (judged by the quality gate, §10) and the release cost gate's
 * cost-gate.json (§11), and writes the verdict. On `promote` it writes the overlay that makes the
 * candidate current; `--apply` alone runs `kubectl apply -k` on it. On `hold` nothing in service
 * changes and no overlay is written.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { parseEvent, type EvaluationEvent } from '../domain/events.js';
import { parseGateRules, type GateRules } from '../domain/gate/rules.js';
import {
  decidePromotion,
  type CandidateJob,
  type CostGateEvidence,
  type PromotionVerdict,
  type Registration,
} from '../domain/promotion/decide.js';
import { renderPromotion, type OverlayFile } from '../domain/promotion/overlay.js';
import { instantOf, INSTANT_HELP, parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const PROMOTE_HELP = `Usage: chargeback promote --model NAME --candidate VERSION --current VERSION
                         --registration FILE --evaluations PATH --cost-gate FILE --rules FILE
                         --out DIR [--deployment FILE] [--base DIR] [--at TIMESTAMP] [--apply]

Decides whether the registered candidate version of a model goes into service (docs/promotion.md):
its latest evaluation must pass the quality gate's rules and the release cost gate must have passed
on its replayed workload. Anything missing, stale, partial or failed is a HOLD with its reasons.

  --registration FILE  the registration record (model, version, modelUri, jobName, jobStatus)
  --evaluations PATH   evaluation events (NDJSON or JSON) of the model: the candidate's, and the
                       current version's for maxDrop
  --cost-gate FILE     cost-gate.json written by chargeback cost-gate
  --rules FILE         the quality gate rules (e.g. rules/quality-gates.json)
  --out DIR            where promotion.json and, on PROMOTE, overlay/ are written
  --deployment FILE    the serving manifest (default vllm-deploy/interactive.yaml)
  --base DIR           the kustomization the overlay patches (default vllm-deploy)
  --at TIMESTAMP       the instant judged (${INSTANT_HELP}; default now)
  --apply              on PROMOTE, run kubectl apply -k on the overlay (never otherwise)
Exit 0 PROMOTE, 1 HOLD, 2 bad arguments.`;

export interface PromoteOptions {
  readonly model: string;
  readonly candidate: string;
  readonly current: string;
  readonly registration: string;
  readonly evaluations: string;
  readonly costGate: string;
  readonly rules: string;
  readonly outDir: string;
  readonly deployment: string;
  readonly base: string;
  readonly atUs?: number;
  readonly apply: boolean;
}

export function parsePromoteArgs(args: readonly string[]): PromoteOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    model: { type: 'string' },
    candidate: { type: 'string' },
    current: { type: 'string' },
    registration: { type: 'string' },
    evaluations: { type: 'string' },
    'cost-gate': { type: 'string' },
    rules: { type: 'string' },
    out: { type: 'string' },
    deployment: { type: 'string' },
    base: { type: 'string' },
    at: { type: 'string' },
    apply: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const text = (name: string): string | undefined =>
    typeof values[name] === 'string' && values[name] !== '' ? values[name] : undefined;
  const required = [
    'model',
    'candidate',
    'current',
    'registration',
    'evaluations',
    'cost-gate',
    'rules',
    'out',
  ];
  const missing = required.filter((name) => text(name) === undefined);
  if (missing.length > 0) throw new UsageError(`promote needs ${missing.map((m) => `--${m}`).join(', ')}`);
  for (const name of ['candidate', 'current'])
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(text(name) ?? ''))
      throw new UsageError(
        `--${name} must be a model version (letters, digits, . _ -), got "${text(name) ?? ''}"`,
      );
  const at = text('at');
  const atUs = at === undefined ? undefined : instantOf(at);
  if (at !== undefined && atUs === undefined)
    throw new UsageError(`--at must be ${INSTANT_HELP}, got "${at}"`);
  return {
    model: text('model') ?? '',
    candidate: text('candidate') ?? '',
    current: text('current') ?? '',
    registration: text('registration') ?? '',
    evaluations: text('evaluations') ?? '',
    costGate: text('cost-gate') ?? '',
    rules: text('rules') ?? '',
    outDir: text('out') ?? '',
    deployment: text('deployment') ?? 'vllm-deploy/interactive.yaml',
    base: text('base') ?? 'vllm-deploy',
    ...(atUs === undefined ? {} : { atUs }),
    apply: values.apply === true,
  };
}

/** Runs `kubectl apply -k DIR`; tests pass their own. */
export type Applier = (dir: string) => Promise<void>;

export const kubectlApply: Applier = (dir) =>
  new Promise((done, fail) => {
    execFile('kubectl', ['apply', '-k', dir], (error, _stdout, stderr) => {
      if (error === null) done();
      else fail(new Error(`kubectl apply -k ${dir}: ${stderr.trim() || error.message}`));
    });
  });

export interface PromoteOutcome {
  readonly verdict: PromotionVerdict;
  readonly code: 0 | 1;
  /** The overlay folder, on promote. */
  readonly overlay?: string;
  readonly applied: boolean;
  /** One line a person reads. */
  readonly text: string;
}

export async function runPromote(
  options: PromoteOptions,
  apply: Applier = kubectlApply,
  now: () => Date = () => new Date(),
): Promise<PromoteOutcome> {
  const registration = await readRegistration(options.registration);
  const evaluations = await readEvaluationEvents(options.evaluations);
  const verdict = decidePromotion({
    model: options.model,
    candidateVersion: options.candidate,
    currentVersion: options.current,
    ...('error' in registration ? {} : registration),
    evaluations: 'error' in evaluations ? [] : evaluations.events,
    evaluationRef: options.evaluations,
    rules: await readRules(options.rules),
    costGate: await readCostGate(options.costGate),
    atUs: options.atUs ?? now().getTime() * 1000,
  });
  // What could not be read is a reason too, in front of the decision's own.
  const unread = [registration, evaluations].flatMap((r) => ('error' in r ? [r.error] : []));
  const decided: PromotionVerdict =
    unread.length === 0
      ? verdict
      : { ...verdict, decision: 'hold', reasons: [...unread, ...verdict.reasons] };
  await mkdir(options.outDir, { recursive: true });
  await writeWhole(join(options.outDir, 'promotion.json'), `${JSON.stringify(decided, null, 2)}\n`);
  const head = `${decided.decision.toUpperCase()} ${decided.model} version ${decided.candidateVersion} (in service: ${decided.currentVersion})`;
  if (decided.decision === 'hold') return { verdict: decided, code: 1, applied: false, text: head };

  const overlay = join(options.outDir, 'overlay');
  await mkdir(overlay, { recursive: true });
  const files = renderPromotion(
    await readDeployment(options.deployment),
    { model: decided.model, version: decided.candidateVersion, modelUri: decided.evidence.modelUri ?? '' },
    relative(resolve(overlay), resolve(options.base)).split('\\').join('/'),
  );
  await writeOverlay(overlay, files);
  if (options.apply) await apply(overlay);
  return {
    verdict: decided,
    code: 0,
    overlay,
    applied: options.apply,
    text: `${head}: overlay in ${overlay}${options.apply ? ', applied' : ' (not applied: open a pull request with it, or run with --apply)'}`,
  };
}

/** Writes an overlay's files into `dir` as YAML, each whole or not at all. */
export async function writeOverlay(dir: string, files: Readonly<Record<string, OverlayFile>>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, file] of Object.entries(files))
    await writeWhole(join(dir, name), `# ${file.comment}\n${stringify(file.content)}`);
}

async function writeWhole(path: string, text: string): Promise<void> {
  await writeFile(`${path}.partial`, text);
  await rename(`${path}.partial`, path);
}

async function readJson(path: string, option: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Unreadable(`cannot read ${option} ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Unreadable(`${option} ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

class Unreadable extends Error {}

async function orError<T>(read: () => Promise<T>): Promise<T | { readonly error: string }> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof Unreadable) return { error: error.message };
    throw error;
  }
}

/** The registration record the register step writes (docs/promotion.md). */
function readRegistration(
  path: string,
): Promise<
  | { job: CandidateJob; registration?: Registration; notRegisteredReason?: string }
  | { readonly error: string }
> {
  return orError(async () => {
    const value = (await readJson(path, '--registration')) as Record<string, unknown> | null;
    const field = (name: string): string => {
      const v = value?.[name];
      if (typeof v !== 'string' || v === '')
        throw new Unreadable(`--registration ${path}: ${name} must be a non-empty string`);
      return v;
    };
    const job = { name: field('jobName'), status: field('jobStatus') };
    if (value?.registered === false) {
      const reason = value.reason;
      return typeof reason === 'string' && reason !== '' ? { job, notRegisteredReason: reason } : { job };
    }
    return {
      job,
      registration: {
        model: field('model'),
        version: field('version'),
        modelUri: field('modelUri'),
        jobName: job.name,
      },
    };
  });
}

function readEvaluationEvents(
  path: string,
): Promise<{ events: EvaluationEvent[] } | { readonly error: string }> {
  return orError(async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new Unreadable(`cannot read --evaluations ${path}: ${(error as Error).message}`);
    }
    let values: unknown[];
    try {
      const whole = JSON.parse(text) as unknown;
      values = Array.isArray(whole) ? whole : [whole];
    } catch {
      values = text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((line, i) => {
          try {
            return JSON.parse(line) as unknown;
          } catch {
            throw new Unreadable(`--evaluations ${path}:${i + 1} is not valid JSON`);
          }
        });
    }
    const events: EvaluationEvent[] = [];
    values.forEach((value, i) => {
      const parsed = parseEvent(value);
      if (!parsed.ok) throw new Unreadable(`--evaluations ${path}: event ${i + 1}: ${parsed.reason}`);
      if (parsed.event.type !== 'evaluation')
        throw new Unreadable(
          `--evaluations ${path}: event ${i + 1} is a ${parsed.event.type} event, not an evaluation`,
        );
      events.push(parsed.event);
    });
    return { events };
  });
}

async function readRules(path: string): Promise<GateRules | { readonly error: string }> {
  return orError(async () => {
    try {
      return parseGateRules(await readJson(path, '--rules'));
    } catch (error) {
      if (error instanceof Unreadable) throw error;
      throw new Unreadable(`--rules ${path}: ${(error as Error).message}`);
    }
  });
}

/** cost-gate.json as chargeback cost-gate writes it (contracts.md §11). */
function readCostGate(path: string): Promise<CostGateEvidence | { readonly error: string }> {
  return orError(async () => {
    const value = (await readJson(path, '--cost-gate')) as Record<string, unknown> | null;
    const verdict = value?.verdict;
    if (verdict !== 'pass' && verdict !== 'fail')
      throw new Unreadable(`--cost-gate ${path}: verdict must be "pass" or "fail"`);
    const strings = (name: string): string[] => {
      const v = value?.[name];
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
        throw new Unreadable(`--cost-gate ${path}: ${name} must be an array of strings`);
      return v;
    };
    return { verdict, reasons: strings('reasons'), trafficDays: strings('trafficDays'), ref: path };
  });
}

async function readDeployment(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --deployment ${path}: ${(error as Error).message}`);
  }
  const deployment = parseAllDocuments(text)
    .map((d) => d.toJS() as { kind?: unknown } | null)
    .find((d) => d?.kind === 'Deployment');
  if (deployment === undefined) throw new UsageError(`--deployment ${path} has no Deployment`);
  return deployment;
}
