/**
 * The Teams notices of the quality gate and of retraining: a gate turned red, a job started, a job
 * refused over budget, a job ended, a job's output that could not be registered. Model names, metric names and reasons come from evaluation
 * events, so every one goes through `text` (one line, bounded, inert as markdown).
 */
import { formatNumber, text } from '../drift/card-text.js';
import {
  factSet,
  fit,
  heading,
  paragraph,
  subtle,
  title,
  type CardElement,
  type MessageContext,
  type TeamsMessage,
} from '../teams/message.js';
import { usd } from '../retrain/policy.js';
import type { JobRecord } from '../retrain/record.js';
import type { Judgement } from './verdict.js';

export interface NoticeContext {
  readonly environment?: string;
  /** Where a job can be opened (Azure ML studio), built by the caller from the workspace. */
  readonly jobUrl?: (name: string) => string;
  readonly maxBytes?: number;
}

const MAX_REASONS = 12;

/** A gate that judged `fail`: which model, on what evidence, and every reason. */
export function gateFailedMessage(j: Judgement, context: NoticeContext = {}): TeamsMessage {
  const v = j.verdict;
  const quality = j.failures.every((f) => f.kind === 'quality');
  const words = quality ? 'quality gate failed' : 'quality gate red: no current evidence';
  const head: CardElement[] = [
    title(`${capital(words)}: ${text(v.model, 80)}`, context, 'critical', text),
    subtle(`Judged at ${j.at} · releases of this model are blocked until it passes`),
    factSet([
      ['Model', text(v.model, 128)],
      ['Version', v.modelVersion === null ? '(none)' : text(v.modelVersion, 128)],
      ['Dataset', v.dataset === null ? '(none)' : text(v.dataset, 128)],
      ['Evaluation', v.evaluation === null ? '(none)' : text(v.evaluation, 128)],
      ...(j.latest === undefined ? [] : [['Evaluated at', j.latest.evaluatedAt] as const]),
    ]),
    heading('Reasons'),
  ];
  const rows = v.reasons.slice(0, MAX_REASONS).map((r) => paragraph(`• ${text(r, 300)}`, 'None'));
  if (!quality)
    rows.push(
      subtle('No retraining: the gate failed for want of evidence, which a new model would not fix.'),
    );
  return fit(head, rows, options(context));
}

/** A job submitted to Azure ML for a failed gate. */
export function jobSubmittedMessage(record: JobRecord, context: NoticeContext = {}): TeamsMessage {
  const head: CardElement[] = [
    title(`Retraining started: ${text(record.model, 80)}`, context, 'warning', text),
    subtle(`After the quality gate failed on evaluation ${text(record.evaluation, 128)}`),
    factSet([
      ['Job', text(record.name, 128)],
      ['Status', text(record.status, 40)],
      ['Compute', computeText(record)],
      ['Estimated cost', usd(record.estimatedMicroUsd)],
      ['Dataset', text(record.dataset, 128)],
      ['Model version', text(record.modelVersion, 128)],
    ]),
  ];
  return fit(head, reasonRows(record), options(context, record.name));
}

/** A job the budget did not allow: said, with the estimate, so someone can decide. */
export function jobRefusedMessage(record: JobRecord, context: NoticeContext = {}): TeamsMessage {
  const head: CardElement[] = [
    title(`Retraining refused: ${text(record.model, 80)}`, context, 'critical', text),
    paragraph(text(record.refusal ?? 'refused', 400)),
    factSet([
      ['Job (not submitted)', text(record.name, 128)],
      ['Compute', computeText(record)],
      ['Estimated cost', usd(record.estimatedMicroUsd)],
      ['Evaluation', text(record.evaluation, 128)],
    ]),
    subtle('The gate stays red. Raise RETRAIN_MAX_USD or the monthly budget, or retrain by hand.'),
  ];
  return fit(head, reasonRows(record), options(context));
}

/** A failure retraining cannot act on (no price for the cluster's SKU): said, not skipped. */
export function retrainingImpossibleMessage(
  model: string,
  evaluation: string,
  reason: string,
  context: NoticeContext = {},
): TeamsMessage {
  const head: CardElement[] = [
    title(`Retraining refused: ${text(model, 80)}`, context, 'critical', text),
    paragraph(text(reason, 400)),
    factSet([['Evaluation', text(evaluation, 128)]]),
    subtle('The gate stays red. Fix the price card or the retraining config, or retrain by hand.'),
  ];
  return fit(head, [], options(context));
}

/** A job that ended: how, how long it held the GPUs, and what that cost. */
export function jobEndedMessage(record: JobRecord, context: NoticeContext = {}): TeamsMessage {
  const ok = record.status === 'Completed';
  const hours = record.gpuSeconds === undefined ? undefined : record.gpuSeconds / 3600;
  const head: CardElement[] = [
    title(
      `Retraining ${text(record.status.toLowerCase(), 40)}: ${text(record.model, 80)}`,
      context,
      ok ? 'good' : 'critical',
      text,
    ),
    factSet([
      ['Job', text(record.name, 128)],
      ['Status', text(record.status, 40)],
      ['Compute', computeText(record)],
      ['Ran', `${record.runningSince ?? '(never seen running)'} to ${record.endedAt ?? '?'}`],
      ['GPU-hours', hours === undefined ? '(unknown)' : formatNumber(hours)],
      ['Cost', record.costMicroUsd === undefined ? '(unknown)' : usd(record.costMicroUsd)],
      ['Estimated', usd(record.estimatedMicroUsd)],
    ]),
    subtle(`Charged in the daily chargeback as tenant (retraining), feature ${text(record.model, 80)}.`),
  ];
  return fit(head, [], options(context, record.name));
}

/** A completed job whose output could not be registered: no promotion can follow, and why. */
export function notRegisteredMessage(record: JobRecord, context: NoticeContext = {}): TeamsMessage {
  const registration = record.registration;
  const head: CardElement[] = [
    title(`Retrained model not registered: ${text(record.model, 80)}`, context, 'critical', text),
    factSet([
      ['Job', text(record.name, 128)],
      ['Version', text(registration?.version ?? record.name, 128)],
      ['Attempts', String(registration?.attempts ?? 0)],
      ['Reason', text(registration?.reason ?? '(unknown)', 300)],
    ]),
    subtle(
      'The candidate is kept as not registered and cannot be promoted; the model in service is unchanged.',
    ),
  ];
  return fit(head, [], options(context, record.name));
}

function reasonRows(record: JobRecord): CardElement[] {
  return [
    heading('Gate reasons'),
    ...record.reasons.slice(0, MAX_REASONS).map((r) => paragraph(`• ${text(r, 300)}`, 'None')),
  ];
}

function computeText(record: JobRecord): string {
  return `${record.instanceCount} × ${text(record.gpuSku, 64)} (${record.instanceCount * record.gpusPerInstance} GPUs)`;
}

function options(context: NoticeContext, job?: string): MessageContext {
  return {
    ...(context.environment === undefined ? {} : { environment: context.environment }),
    ...(context.maxBytes === undefined ? {} : { maxBytes: context.maxBytes }),
    ...(job !== undefined && context.jobUrl !== undefined
      ? { link: { title: 'Open the job in Azure ML studio', url: context.jobUrl(job) } }
      : {}),
  };
}

function capital(words: string): string {
  return words.charAt(0).toUpperCase() + words.slice(1);
}
