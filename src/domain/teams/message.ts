/**
 * A Teams message (contracts.md §7): the Workflows envelope around one Adaptive Card 1.4, and the few card
 * elements every message here is built from. Pure: JSON-ready objects out. Drift alerts
 * (src/domain/drift/card.ts) and quality-gate and retraining notices (src/domain/gate/card.ts) use
 * it; every untrusted text goes through drift/card-text.ts `text` before it gets here.
 */

/**
 * The most UTF-8 bytes of JSON posted as one message: 24 KB, a margin below the webhook's limit
 * (contracts.md §7). The Workflows action that posts the card limits a message to "about 28 KB", counted
 * after Teams renders it, including all HTML elements
 * (https://learn.microsoft.com/en-us/connectors/teams/#known-issues-and-limitations-with-actions):
 * rendering adds bytes that the JSON does not show, so a body of exactly 28 KB can still fail with
 * "Request Entity too large".
 */
export const MAX_MESSAGE_BYTES = 24 * 1024;

export type CardElement = Readonly<Record<string, unknown>>;

export interface AdaptiveCard {
  readonly type: 'AdaptiveCard';
  readonly $schema: 'http://adaptivecards.io/schemas/adaptive-card.json';
  readonly version: '1.4';
  readonly msteams: { readonly width: 'Full' };
  readonly body: readonly CardElement[];
  readonly actions?: readonly CardElement[];
}

/** The body a Workflows webhook takes (contracts.md §7). */
export interface TeamsMessage {
  readonly type: 'message';
  readonly attachments: readonly [
    {
      readonly contentType: 'application/vnd.microsoft.card.adaptive';
      readonly contentUrl: null;
      readonly content: AdaptiveCard;
    },
  ];
}

/** A message and the key it is delivered under: the same notice has the same key, whichever run makes it. */
export interface KeyedMessage {
  readonly key: string;
  readonly message: TeamsMessage;
}

/** What every card may carry: a link, the deployment's name, and a size budget. */
export interface MessageContext {
  /** The card's one button opens it (a report, a job in the studio). */
  readonly link?: { readonly title: string; readonly url: string };
  /** Shown in every title, so a channel fed by several deployments tells them apart. */
  readonly environment?: string;
  /** Default MAX_MESSAGE_BYTES; smaller in tests. */
  readonly maxBytes?: number;
  /** The words after "and N more" when rows are cut, e.g. " in the day’s report". */
  readonly moreWhere?: string;
}

export type Tone = 'critical' | 'warning' | 'good';

export function envelope(card: AdaptiveCard): TeamsMessage {
  return {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card },
    ],
  };
}

const encoder = new TextEncoder();

/** The size the webhook counts: UTF-8 bytes of the JSON body. */
export function messageBytes(message: TeamsMessage): number {
  return encoder.encode(JSON.stringify(message)).length;
}

/**
 * The card with `head`, as many `rows` as fit in the byte budget, and "and N more" for the rest.
 * The row count is found by bisection: the size grows with every row, and a card of hundreds of
 * rows would otherwise be serialised hundreds of times.
 */
export function fit(
  head: readonly CardElement[],
  rows: readonly CardElement[],
  context: MessageContext,
): TeamsMessage {
  const maxBytes = context.maxBytes ?? MAX_MESSAGE_BYTES;
  const build = (shown: number): TeamsMessage => {
    const body = [...head, ...rows.slice(0, shown)];
    const hidden = rows.length - shown;
    if (hidden > 0) body.push(subtle(`… and ${hidden} more${context.moreWhere ?? ''}.`));
    return envelope(card(body, context));
  };
  const all = build(rows.length);
  if (messageBytes(all) <= maxBytes) return all;
  let low = 0;
  let high = rows.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (messageBytes(build(mid)) <= maxBytes) low = mid;
    else high = mid - 1;
  }
  const message = build(low);
  // Only a head larger than the budget gets here, which the texts' length caps rule out.
  if (messageBytes(message) > maxBytes)
    throw new RangeError(`card of ${messageBytes(message)} bytes exceeds ${maxBytes}`);
  return message;
}

function card(body: readonly CardElement[], context: MessageContext): AdaptiveCard {
  const actions = context.link
    ? [{ type: 'Action.OpenUrl', title: context.link.title, url: context.link.url }]
    : undefined;
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    // Teams draws cards narrow unless asked; the facts and digest lines need the width.
    msteams: { width: 'Full' },
    body,
    ...(actions ? { actions } : {}),
  };
}

/** `words` must already be safe text (see drift/card-text.ts); the environment is made so here. */
export function title(
  words: string,
  context: Pick<MessageContext, 'environment'>,
  tone: Tone,
  safe: (value: string, max: number) => string,
): CardElement {
  const prefix = context.environment ? `[${safe(context.environment, 40)}] ` : '';
  const color = tone === 'critical' ? 'Attention' : tone === 'warning' ? 'Warning' : 'Good';
  return { type: 'TextBlock', text: prefix + words, size: 'Large', weight: 'Bolder', color, wrap: true };
}

export function heading(words: string): CardElement {
  return { type: 'TextBlock', text: words, weight: 'Bolder', spacing: 'Medium', wrap: true };
}

export function subtle(words: string): CardElement {
  return { type: 'TextBlock', text: words, isSubtle: true, size: 'Small', spacing: 'Small', wrap: true };
}

export function paragraph(words: string, spacing: 'None' | 'Default' = 'Default'): CardElement {
  return { type: 'TextBlock', text: words, wrap: true, ...(spacing === 'None' ? { spacing } : {}) };
}

export function factSet(facts: readonly (readonly [string, string])[]): CardElement {
  return { type: 'FactSet', facts: facts.map(([title, value]) => ({ title, value })) };
}
