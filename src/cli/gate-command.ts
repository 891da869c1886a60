import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigurationError } from '../domain/errors.js';
import { judge, withFailure } from '../domain/gate/judge.js';
import { parseGateRules, type GateRules } from '../domain/gate/rules.js';
import type { Judgement, RetrainOutcome } from '../domain/gate/verdict.js';
import { escapeControlCharacters } from '../domain/text.js';
import { parseTimestamp } from '../domain/timestamp.js';
import type { Clock } from '../ports/clock.js';
import { readEvaluations } from './evaluation-files.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const GATE_HELP = `Usage: chargeback gate --evaluations PATH --rules FILE --model NAME [--at TIMESTAMP]
                       [--out FILE] [--retrain]

Judges the latest evaluation of the model at --at against its rules (docs/quality-gates.md) and
prints PASS or FAIL with every reason. It fails closed: no evaluation, a stale one, the wrong
dataset, a missing or non-finite metric, or an unreadable rules or evaluations path is a FAIL.

Options:
  --evaluations PATH  evaluation events (NDJSON): a file, or a folder whose *.ndjson, *.jsonl and
                      *.json files are read in name order (one level: sub-folders are not read);
                      a *.json file may also hold one event or an array of them
  --rules FILE        the gate rules (e.g. rules/quality-gates.json)
  --model NAME        the model to judge
  --at TIMESTAMP      judge as of this instant, ISO 8601 with Z or an offset (default: now)
  --out FILE          also write the verdict as JSON (the folder is created if missing)
  --retrain           on a failed verdict, start a retraining job (docs/retraining.md)
  -h, --help          this text

Lines that are not valid evaluation events are left out, each named on stderr with its reason.
Exit status: 0 pass, 1 fail, 2 bad arguments.`;

/** Rejected lines named on stderr before the rest are only counted. */
export const MAX_WARNINGS = 20;

export interface GateOptions {
  readonly evaluationsPath: string;
  readonly rulesPath: string;
  readonly model: string;
  /** Microseconds since the epoch; undefined for now. */
  readonly atUs?: number;
  readonly outPath?: string;
  readonly retrain: boolean;
}

/** What the command needs from outside, as parameters: the retraining client and the clock. */
export interface GateDeps {
  /** Starts (or declines to start) retraining for a failed judgement; required by --retrain. */
  readonly retrain?: (judgement: Judgement) => Promise<RetrainOutcome>;
  readonly now?: Clock;
}

export interface GateOutcome {
  /** The one object the printed verdict and the exit status both come from. */
  readonly judgement: Judgement;
  /** Valid evaluation events read (of any model). */
  readonly evaluationsRead: number;
  /** Lines (or array items) left out. */
  readonly rejected: number;
  /** `file:line: reason` of the first MAX_WARNINGS of them. */
  readonly rejectedLines: readonly string[];
  /** Present when --retrain was given. */
  readonly retrain?: RetrainOutcome;
  readonly outPath?: string;
}

export function parseGateArgs(args: readonly string[]): GateOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    evaluations: { type: 'string' },
    rules: { type: 'string' },
    model: { type: 'string' },
    at: { type: 'string' },
    out: { type: 'string' },
    retrain: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const text = (name: string): string | undefined =>
    typeof values[name] === 'string' ? values[name] : undefined;
  const missing = ['evaluations', 'rules', 'model'].filter((name) => text(name) === undefined);
  if (missing.length > 0) throw new UsageError(`gate needs ${missing.map((m) => `--${m}`).join(', ')}`);
  const model = text('model') ?? '';
  if (model === '') throw new UsageError('--model must not be empty');
  const at = text('at');
  const atUs = at === undefined ? undefined : parseTimestamp(at);
  if (at !== undefined && atUs === undefined)
    throw new UsageError(`--at must be an ISO-8601 timestamp with Z or an offset, got "${at}"`);
  const outPath = text('out');
  return {
    evaluationsPath: text('evaluations') ?? '',
    rulesPath: text('rules') ?? '',
    model,
    ...(atUs === undefined ? {} : { atUs }),
    ...(outPath === undefined ? {} : { outPath }),
    retrain: values.retrain === true,
  };
}

/**
 * `chargeback gate` (contracts.md §10). An unreadable rules file or evaluations path is a failed verdict
 * with its reason, not an error: the gate fails closed. Throws ConfigurationError when --retrain is
 * asked for and no retraining is configured, and UsageError when --out cannot be written.
 */
export async function runGate(options: GateOptions, deps: GateDeps = {}): Promise<GateOutcome> {
  if (options.retrain && deps.retrain === undefined)
    throw new ConfigurationError('--retrain: retraining is not configured (docs/retraining.md)');
  const atUs = options.atUs ?? (deps.now ?? (() => new Date()))().getTime() * 1000;
  const rules = await readRules(options.rulesPath);
  const read = await readEvaluations(options.evaluationsPath, MAX_WARNINGS);
  let judgement = judge(options.model, read.evaluations, rules, atUs);
  if (read.error !== undefined)
    judgement = withFailure(judgement, {
      kind: 'evidence',
      reason: `cannot read evaluations: ${read.error}`,
    });
  let retrain: RetrainOutcome | undefined;
  if (options.retrain && deps.retrain !== undefined)
    retrain =
      judgement.verdict.verdict === 'pass'
        ? { job: null, reason: 'the gate passed' }
        : await attempt(deps.retrain, judgement);
  if (options.outPath !== undefined) await writeVerdict(options.outPath, judgement, retrain);
  return {
    judgement,
    evaluationsRead: read.evaluations.length,
    rejected: read.rejected.count,
    rejectedLines: read.rejected.lines,
    ...(retrain === undefined ? {} : { retrain }),
    ...(options.outPath === undefined ? {} : { outPath: options.outPath }),
  };
}

/** The lines for stdout after the verdict: the retraining outcome and the file written. */
export function gateNotes(outcome: GateOutcome): string[] {
  const notes: string[] = [];
  const r = outcome.retrain;
  if (r !== undefined) {
    const job = r.job;
    notes.push(
      job === null
        ? `retraining: no job: ${r.reason ?? 'none was started'}`
        : `retraining: job ${job.name} (${job.status}, estimated ${job.estimatedCostUsd.toFixed(2)} USD)` +
            (r.reason === undefined ? '' : `: ${r.reason}`),
    );
  }
  if (outcome.outPath !== undefined) notes.push(`wrote ${outcome.outPath}`);
  return notes.map(escapeControlCharacters);
}

/** The warnings for stderr: the first MAX_WARNINGS rejected lines, then how many more. */
export function gateWarnings(outcome: GateOutcome): string[] {
  const shown = outcome.rejectedLines.map((line) => `rejected ${escapeControlCharacters(line)}`);
  const more = outcome.rejected - shown.length;
  return more > 0 ? [...shown, `and ${more} more rejected line(s)`] : shown;
}

// A retraining that fails outright still leaves a verdict to print and write; a configuration
// problem is the operator's to fix, so it ends the command (exit 2).
async function attempt(
  retrain: (judgement: Judgement) => Promise<RetrainOutcome>,
  judgement: Judgement,
): Promise<RetrainOutcome> {
  try {
    return await retrain(judgement);
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    return { job: null, reason: `retraining failed: ${(error as Error).message}` };
  }
}

async function readRules(path: string): Promise<GateRules | { readonly error: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { error: `cannot read --rules ${path}: ${(error as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { error: `--rules ${path} is not valid JSON: ${(error as Error).message}` };
  }
  try {
    return parseGateRules(json);
  } catch (error) {
    return { error: `--rules ${path}: ${(error as Error).message}` };
  }
}

/** The verdict JSON of contracts.md §10, with the job when --retrain was given; written whole or not at all. */
async function writeVerdict(
  path: string,
  judgement: Judgement,
  retrain: RetrainOutcome | undefined,
): Promise<void> {
  const body = {
    ...judgement.verdict,
    ...(retrain === undefined
      ? {}
      : { job: retrain.job, ...(retrain.reason === undefined ? {} : { jobReason: retrain.reason }) }),
  };
  const partial = `${path}.${process.pid}.partial`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(partial, `${JSON.stringify(body, null, 2)}\n`, 'utf8');
    await rename(partial, path);
  } catch (error) {
    throw new UsageError(`cannot write --out ${path}: ${(error as Error).message}`);
  }
}
