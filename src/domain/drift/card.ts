/**
 * The Teams messages for a day's drift report (contracts.md §7): the Workflows envelope around an Adaptive
 * Card 1.4. Pure: the report and a little context in, JSON-ready objects out.
 *
 * What goes out: one card per alert while there are few; above `digestAbove` alerts, one digest card
 * instead (an alert storm must read as one message, not a flood); and one short "back to normal"
 * card for the resolved ids. Every message is at most `maxBytes` of UTF-8 JSON, with the rows that
 * do not fit replaced by "and N more".
 */
import type { Alert, AlertScope, DriftReport } from './alert.js';
import { alertWords } from './alert-words.js';
import { resolvedWords } from './labels.js';
import { scopeText, text } from './card-text.js';
import {
  factSet,
  fit as fitMessage,
  heading,
  paragraph,
  subtle,
  title as titleBlock,
  type CardElement,
  type KeyedMessage,
  type MessageContext,
  type TeamsMessage,
  type Tone,
} from '../teams/message.js';

export {
  envelope,
  MAX_MESSAGE_BYTES,
  messageBytes,
  type AdaptiveCard,
  type CardElement,
  type KeyedMessage,
  type TeamsMessage,
} from '../teams/message.js';

export const DEFAULT_DIGEST_ABOVE = 5;
const MAX_CONTRIBUTORS = 5;

export interface CardContext {
  /** The day's report (CSV or a portal view); the card's one button opens it. */
  readonly reportUrl?: string;
  /** Shown in every title, so a channel fed by several deployments tells them apart. */
  readonly environment?: string;
  /** More alerts than this become one digest card. Default 5. */
  readonly digestAbove?: number;
  /** Default MAX_MESSAGE_BYTES; smaller in tests. */
  readonly maxBytes?: number;
}

/** The messages for one day's report, in the order they should be posted. */
export function driftMessages(report: DriftReport, context: CardContext = {}): KeyedMessage[] {
  const out: KeyedMessage[] = [];
  const digestAbove = context.digestAbove ?? DEFAULT_DIGEST_ABOVE;
  if (report.alerts.length > digestAbove) {
    out.push({ key: `${report.date}/digest`, message: digestMessage(report, context) });
  } else {
    for (const alert of report.alerts)
      out.push({ key: `${report.date}/alert/${alert.id}`, message: alertMessage(alert, report, context) });
  }
  if (report.resolved.length > 0)
    out.push({ key: `${report.date}/resolved`, message: resolvedMessage(report, context) });
  return out;
}

/** One alert: what changed, by how much, against what baseline, where, who drove it, and a link. */
export function alertMessage(alert: Alert, report: DriftReport, context: CardContext = {}): TeamsMessage {
  const contributors = (alert.contributors ?? []).slice(0, MAX_CONTRIBUTORS);
  const words = alertWords(alert);
  const body: CardElement[] = [
    title(
      `${alert.severity === 'critical' ? 'Critical' : 'Warning'}: ${words.title}`,
      context,
      alert.severity,
    ),
    subtle(`${report.date} · ${scopeText(alert.scope)}`),
    paragraph(text(alert.message, 600)),
    factSet([
      ['Today', words.format(alert.value)],
      words.baseline,
      ...(words.change === undefined ? [] : [['Change', words.change] as [string, string]]),
      ['Threshold', words.format(alert.threshold)],
      ['History', historyText(report)],
      ...scopeFacts(alert.scope),
    ]),
  ];
  if (contributors.length > 0) {
    body.push(heading('Top contributors'));
    body.push(factSet(contributors.map((c) => [text(c.name, 80), words.contributor(c.value)])));
  }
  body.push(subtle(`Alert id: ${text(alert.id, 200)}`));
  return fit(body, [], context);
}

/** Many alerts at once: counts, then one line per alert (critical first, biggest change first). */
export function digestMessage(report: DriftReport, context: CardContext = {}): TeamsMessage {
  const critical = report.alerts.filter((a) => a.severity === 'critical').length;
  const head: CardElement[] = [
    title(
      `${report.alerts.length} drift alerts on ${report.date}`,
      context,
      critical > 0 ? 'critical' : 'warning',
    ),
    subtle(
      `${critical} critical, ${report.alerts.length - critical} warning; baselines are medians of previous days (${report.baselineDays} found).`,
    ),
  ];
  const rows = [...report.alerts].sort(byUrgency).map(digestRow);
  return fit(head, rows, context);
}

/** Alerts open before the day that no longer hold: short, so it is read and dismissed. */
export function resolvedMessage(report: DriftReport, context: CardContext = {}): TeamsMessage {
  const n = report.resolved.length;
  const head: CardElement[] = [
    title(`Back to normal on ${report.date}: ${n} alert${n === 1 ? '' : 's'} resolved`, context, 'good'),
  ];
  const rows = [...report.resolved].sort().map((id) => paragraph(`✓ ${resolvedLine(id)}`, 'None'));
  return fit(head, rows, context);
}

function digestRow(alert: Alert): CardElement {
  const words = alertWords(alert);
  const line =
    `**${alert.severity === 'critical' ? 'CRITICAL' : 'warning'}** ${words.title} · ${scopeText(alert.scope)}: ` +
    `${words.format(alert.value)} against ${words.against}`;
  return paragraph(line, 'None');
}

function byUrgency(a: Alert, b: Alert): number {
  const severity = (a.severity === 'critical' ? 0 : 1) - (b.severity === 'critical' ? 0 : 1);
  if (severity !== 0) return severity;
  const change = relativeChange(b) - relativeChange(a);
  return change !== 0 ? change : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function relativeChange(alert: Alert): number {
  if (alert.baseline === 0) return alert.value === 0 ? 0 : Number.MAX_VALUE;
  return Math.abs(alert.value / alert.baseline - 1);
}

function fit(head: readonly CardElement[], rows: readonly CardElement[], context: CardContext): TeamsMessage {
  const options: MessageContext = {
    ...(context.reportUrl ? { link: { title: 'Open the day’s report', url: context.reportUrl } } : {}),
    ...(context.environment === undefined ? {} : { environment: context.environment }),
    ...(context.maxBytes === undefined ? {} : { maxBytes: context.maxBytes }),
    ...(context.reportUrl ? { moreWhere: ' in the day’s report' } : {}),
  };
  return fitMessage(head, rows, options);
}

function title(words: string, context: CardContext, tone: Tone): CardElement {
  return titleBlock(words, context, tone, text);
}

function scopeFacts(scope: AlertScope): [string, string][] {
  const facts: [string, string][] = [];
  if (scope.tenant !== undefined) facts.push(['Tenant', text(scope.tenant, 128)]);
  if (scope.feature !== undefined) facts.push(['Feature', text(scope.feature, 128)]);
  if (scope.model !== undefined) facts.push(['Model', text(scope.model, 128)]);
  if (scope.requestClass !== undefined) facts.push(['Request class', text(scope.requestClass, 64)]);
  if (scope.pod !== undefined) facts.push(['Pod', text(scope.pod, 128)]);
  return facts;
}

/** "Daily cost · acme / chat / llama-3-8b / interactive", or the id itself when it cannot be read. */
function resolvedLine(id: string): string {
  const words = resolvedWords(id);
  return words === undefined ? text(id, 200) : `${text(words.rule, 80)} · ${text(words.scope, 300)}`;
}

function historyText(report: DriftReport): string {
  return `${report.baselineDays} previous day${report.baselineDays === 1 ? '' : 's'}`;
}
