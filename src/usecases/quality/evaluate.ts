/**
 * Evaluation events -> history -> the gate of every model they touch (contracts.md §10), and the same gate
 * on a cadence for every gated model, so a harness that stops reporting turns its gate red.
 *
 * Each message is validated on its own: a bad one is kept with its reason (a dead letter) and the
 * rest of the batch goes on. The history is keyed by eventId, so a redelivered batch adds nothing.
 * Every judgement is stored as the model's last verdict; a gate that turns red is announced once
 * per failing evaluation (or once per stale spell), not on every tick, and a gate failed on quality
 * hands the judgement to retraining.
 */
import { parseEvent } from '../../domain/events.js';
import { gateFailedMessage } from '../../domain/gate/card.js';
import { judge } from '../../domain/gate/judge.js';
import { gatedModels, type GateRules } from '../../domain/gate/rules.js';
import {
  evaluationOf,
  retrainable,
  type Evaluation,
  type Judgement,
  type RetrainOutcome,
} from '../../domain/gate/verdict.js';
import type { DeadLetter } from '../../ports/ledger.js';
import type { QualityStore } from '../../ports/quality-store.js';
import type { DeliveredMessage } from '../ingest/ingest.js';
import { deadLetterOf, errorText, messageText } from '../ingest/message-body.js';
import { post, type NoticeDeps } from './notices.js';
import { retrainOnFailure, type RetrainDeps } from './retrain.js';

/** The rules file as read at start: the rules, or why they cannot be read (every gate then fails closed). */
export type RulesOrError = GateRules | { readonly error: string };

export interface QualityDeps {
  readonly quality: QualityStore;
  readonly rules: RulesOrError;
  readonly now: () => Date;
  /** Teams notices of red gates. */
  readonly notices: Omit<NoticeDeps, 'store'>;
  /** Retraining; undefined when Azure ML is not configured (the gate still judges and alerts). */
  readonly retrain?: RetrainDeps;
  readonly context?: { readonly environment?: string };
}

export interface EvaluateCounts {
  read: number;
  accepted: number;
  /** Already in the history (redelivered). */
  duplicates: number;
  rejected: number;
}

export interface ModelOutcome {
  readonly judgement: Judgement;
  /** When the gate failed on quality and retraining is configured. */
  readonly retrain?: RetrainOutcome;
}

/** Validates, keeps and judges one batch of the `evaluations` hub. */
export async function ingestEvaluations(
  messages: readonly DeliveredMessage[],
  deps: QualityDeps,
): Promise<{ counts: EvaluateCounts; models: Map<string, ModelOutcome> }> {
  const letters: DeadLetter[] = [];
  const accepted: Evaluation[] = [];
  for (const message of messages) {
    const result = examine(message.body);
    if (typeof result === 'string') letters.push(deadLetterOf(message, result));
    else accepted.push(result);
  }
  if (letters.length > 0) await deps.quality.deadLetter(letters);
  const added = accepted.length === 0 ? 0 : await deps.quality.addEvaluations(accepted);
  const counts: EvaluateCounts = {
    read: messages.length,
    accepted: added,
    duplicates: accepted.length - added,
    rejected: letters.length,
  };
  const models = new Map<string, ModelOutcome>();
  for (const model of [...new Set(accepted.map((e) => e.model))].sort())
    models.set(model, await judgeModel(model, deps));
  return { counts, models };
}

/** The timer's pass: every model the rules name or the history holds, judged now. */
export async function judgeAll(deps: QualityDeps): Promise<Map<string, ModelOutcome>> {
  const named = 'error' in deps.rules ? [] : gatedModels(deps.rules);
  const models = [...new Set([...named, ...(await deps.quality.models())])].sort();
  const out = new Map<string, ModelOutcome>();
  for (const model of models) out.set(model, await judgeModel(model, deps));
  return out;
}

/** Judges the model now, stores the verdict, announces a newly red gate, and retrains on a quality failure. */
export async function judgeModel(model: string, deps: QualityDeps): Promise<ModelOutcome> {
  const now = deps.now();
  const history = await deps.quality.evaluations(model);
  const judgement = judge(model, history, deps.rules, now.getTime() * 1000);
  const previous = await deps.quality.lastVerdict(model);
  const v = judgement.verdict;
  const before = previous?.verdict;
  const news =
    v.verdict === 'fail' &&
    (before === undefined || before.verdict === 'pass' || before.evaluation !== v.evaluation);
  // The notice goes out before the verdict is stored: a crash between them repeats it, never loses it.
  if (news) {
    await post(
      `gate/${model}/${v.evaluation ?? 'none'}/${judgement.at}`,
      gateFailedMessage(judgement, deps.context),
      deps.notices,
    );
  }
  await deps.quality.saveVerdict(model, { verdict: v, judgedAt: judgement.at });
  if (v.verdict === 'pass' || deps.retrain === undefined || !retrainable(judgement)) return { judgement };
  return { judgement, retrain: await retrainOnFailure(judgement, deps.retrain) };
}

/** The evaluation a message holds, or why it is refused. */
function examine(body: unknown): Evaluation | string {
  try {
    const text = messageText(body);
    if (!text.ok) return text.reason;
    let value: unknown;
    try {
      value = JSON.parse(text.text);
    } catch (error) {
      return `not valid JSON: ${errorText(error)}`;
    }
    const parsed = parseEvent(value);
    if (!parsed.ok) return parsed.reason;
    if (parsed.event.type !== 'evaluation')
      return `type: ${parsed.event.type} events belong on the usage hub, not the evaluations hub`;
    return evaluationOf(parsed.event);
  } catch (error) {
    return `cannot be processed: ${errorText(error)}`;
  }
}
