/**
 * Two independent checks that a card is a valid Adaptive Card 1.4, both offline:
 *
 * - The official JavaScript renderer's own parser (`adaptivecards` on npm), asked to parse for
 *   version 1.4: it reports unknown element types, invalid enum values and features newer than the
 *   target version.
 * - A JSON schema for the subset of Adaptive Card 1.4 these cards use (AdaptiveCard, TextBlock,
 *   FactSet, Action.OpenUrl and Teams' `msteams.width`), written from the 1.4 schema's definitions
 *   of those elements with no extra property allowed. No npm package ships the official schema
 *   file, so the subset is checked here rather than the whole schema.
 */
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';

const SPACING = ['None', 'Small', 'Default', 'Medium', 'Large', 'ExtraLarge', 'Padding'];

const textBlock = {
  type: 'object',
  required: ['type', 'text'],
  additionalProperties: false,
  properties: {
    type: { const: 'TextBlock' },
    text: { type: 'string' },
    size: { enum: ['Default', 'Small', 'Medium', 'Large', 'ExtraLarge'] },
    weight: { enum: ['Default', 'Lighter', 'Bolder'] },
    color: { enum: ['Default', 'Dark', 'Light', 'Accent', 'Good', 'Warning', 'Attention'] },
    isSubtle: { type: 'boolean' },
    wrap: { type: 'boolean' },
    maxLines: { type: 'number' },
    spacing: { enum: SPACING },
    separator: { type: 'boolean' },
  },
};

const factSet = {
  type: 'object',
  required: ['type', 'facts'],
  additionalProperties: false,
  properties: {
    type: { const: 'FactSet' },
    facts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['title', 'value'],
        additionalProperties: false,
        properties: { title: { type: 'string' }, value: { type: 'string' } },
      },
    },
    spacing: { enum: SPACING },
    separator: { type: 'boolean' },
  },
};

const openUrl = {
  type: 'object',
  required: ['type', 'url'],
  additionalProperties: false,
  properties: {
    type: { const: 'Action.OpenUrl' },
    url: { type: 'string', pattern: '^https?://' },
    title: { type: 'string' },
  },
};

export const ADAPTIVE_CARD_SUBSET_SCHEMA = {
  type: 'object',
  required: ['type', 'version', 'body'],
  additionalProperties: false,
  properties: {
    type: { const: 'AdaptiveCard' },
    $schema: { type: 'string' },
    version: { const: '1.4' },
    msteams: {
      type: 'object',
      additionalProperties: false,
      properties: { width: { const: 'Full' } },
    },
    body: { type: 'array', items: { oneOf: [textBlock, factSet] } },
    actions: { type: 'array', items: openUrl },
  },
};

export const TEAMS_ENVELOPE_SCHEMA = {
  type: 'object',
  required: ['type', 'attachments'],
  additionalProperties: false,
  properties: {
    type: { const: 'message' },
    attachments: {
      type: 'array',
      minItems: 1,
      maxItems: 1,
      items: {
        type: 'object',
        required: ['contentType', 'contentUrl', 'content'],
        additionalProperties: false,
        properties: {
          contentType: { const: 'application/vnd.microsoft.card.adaptive' },
          contentUrl: { type: 'null' },
          content: ADAPTIVE_CARD_SUBSET_SCHEMA,
        },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
const validateEnvelope = ajv.compile(TEAMS_ENVELOPE_SCHEMA);

/** Schema errors of a Teams message, as "path message" strings; empty when valid. */
export function schemaErrors(message: unknown): string[] {
  if (validateEnvelope(message)) return [];
  return (validateEnvelope.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

interface ParseEvent {
  readonly message: string;
}
interface AdaptiveCardsModule {
  AdaptiveCard: new () => { parse(json: unknown, context: unknown): void };
  SerializationContext: new (version: unknown) => { eventCount: number; getEventAt(i: number): ParseEvent };
  Versions: { v1_4: unknown };
}

// The package's ES module build imports its files without extensions, which Node's ESM resolver
// refuses; its UMD bundle loads as CommonJS and needs no DOM to parse.
const AC = createRequire(import.meta.url)('adaptivecards/dist/adaptivecards.js') as AdaptiveCardsModule;

/** What the official parser objects to when reading the card as version 1.4; empty when valid. */
export function parserIssues(card: unknown): string[] {
  const context = new AC.SerializationContext(AC.Versions.v1_4);
  new AC.AdaptiveCard().parse(card, context);
  return Array.from({ length: context.eventCount }, (_, i) => context.getEventAt(i).message);
}
