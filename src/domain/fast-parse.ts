import { parseEvent } from './events.js';
import {
  capacityRecord,
  usageRecord,
  withStalls,
  type AccountingRecord,
  type UsageRecord,
} from './records.js';
import { parseTimestamp, type Micros } from './timestamp.js';
import { hasControlCharacter, isNormalLabel } from './text.js';

/**
 * The hot path of ingestion. The zod schemas in events.ts are the definition of a valid event;
 * validating a million events through them costs several times the JSON parse itself, so the
 * common, well-formed usage and capacity events are checked here by hand. This path only ever
 * accepts: anything it does not recognise as valid goes through zod, which decides and explains.
 * A property test holds the two to the same verdicts.
 */
export type RecordResult =
  | { ok: true; record: AccountingRecord }
  | { ok: true; record: null; type: 'evaluation' }
  | { ok: false; reason: string };

/** Returns one shared copy of equal strings (the few names repeated across a million events). */
export type Intern = (value: string) => string;

const identity: Intern = (value) => value;

/**
 * A line as its reader gave it: refused when it was over the length limit or not UTF-8 (contracts.md §2:
 * events are UTF-8; a decoder would turn the bad bytes into U+FFFD and bill a tenant name nobody
 * sent, while a U+FFFD that was validly encoded is an ordinary character), else parseRecordText.
 */
export function lineRecord(
  line: { readonly text: string; readonly tooLong?: number; readonly invalidUtf8?: number },
  intern: Intern = identity,
): RecordResult {
  if (line.tooLong !== undefined)
    return { ok: false, reason: `line is ${line.tooLong} characters, over the 1 MiB limit` };
  if (line.invalidUtf8 !== undefined)
    return { ok: false, reason: `invalid UTF-8 at byte offset ${line.invalidUtf8} of the file` };
  return parseRecordText(line.text, intern);
}

/** parseRecord of one line of text; invalid JSON is a rejection with the parser's message. */
export function parseRecordText(text: string, intern: Intern = identity): RecordResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON: ${(error as Error).message}` };
  }
  return parseRecord(value, intern);
}

export function parseRecord(value: unknown, intern: Intern = identity): RecordResult {
  const fast = fastRecord(value, intern);
  if (fast !== undefined) return { ok: true, record: fast };
  const parsed = parseEvent(value);
  if (!parsed.ok) return parsed;
  const event = parsed.event;
  if (event.type === 'usage') return { ok: true, record: usageRecord(event, intern) };
  if (event.type === 'capacity') return { ok: true, record: capacityRecord(event, intern) };
  return { ok: true, record: null, type: 'evaluation' };
}

/** The eventId: 1 to 128 characters without control characters, as events.ts checks it. */
function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= 128 && !hasControlCharacter(value);
}

// A name not already in NFC is valid but rewritten: zod, which normalises it, makes that record.
function isLabel(value: unknown): value is string {
  return typeof value === 'string' && isNormalLabel(value);
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && isNormalLabel(value, Number.POSITIVE_INFINITY);
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isStringMap(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const key in value) {
    if (typeof (value as Record<string, unknown>)[key] !== 'string') return false;
  }
  return true;
}

function fastRecord(value: unknown, intern: Intern): AccountingRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.schemaVersion !== 1 || !isIdentifier(v.eventId)) return undefined;
  if (!isName(v.pod) || !isText(v.gpuSku) || !isName(v.model)) return undefined;
  const gpuCount = v.gpuCount;
  if (typeof gpuCount !== 'number' || !Number.isSafeInteger(gpuCount) || gpuCount < 1) return undefined;
  if (v.type === 'usage') return fastUsage(v, gpuCount, intern);
  if (v.type === 'capacity') return fastCapacity(v, gpuCount, intern);
  return undefined;
}

function fastUsage(
  v: Record<string, unknown>,
  gpuCount: number,
  intern: Intern,
): AccountingRecord | undefined {
  if (typeof v.requestId !== 'string' || !isLabel(v.tenant) || !isLabel(v.feature)) return undefined;
  if (!isName(v.requestClass)) return undefined;
  const startedAt = timestamp(v.startedAt);
  const finishedAt = timestamp(v.finishedAt);
  if (startedAt === undefined || finishedAt === undefined || finishedAt < startedAt) return undefined;
  let firstTokenAt: Micros | null = null;
  if (v.firstTokenAt !== null) {
    const first = timestamp(v.firstTokenAt);
    if (first === undefined || first < startedAt || first > finishedAt) return undefined;
    firstTokenAt = first;
  }
  const { promptTokens, completionTokens, status } = v;
  if (!isCount(promptTokens) || !isCount(completionTokens)) return undefined;
  let cachedPromptTokens = 0;
  if (v.cachedPromptTokens !== undefined) {
    if (!isCount(v.cachedPromptTokens) || v.cachedPromptTokens > promptTokens) return undefined;
    cachedPromptTokens = v.cachedPromptTokens;
  }
  let queueMs = 0;
  if (v.queueMs !== undefined) {
    if (typeof v.queueMs !== 'number' || !Number.isFinite(v.queueMs) || v.queueMs < 0) return undefined;
    queueMs = v.queueMs;
  }
  if (status !== 'ok' && status !== 'error' && status !== 'aborted') return undefined;
  if (v.httpStatus !== undefined && !Number.isSafeInteger(v.httpStatus)) return undefined;
  if (v.attributes !== undefined && !isStringMap(v.attributes)) return undefined;
  const record: UsageRecord = {
    type: 'usage',
    eventId: v.eventId as string,
    requestId: v.requestId,
    tenant: intern(v.tenant),
    feature: intern(v.feature),
    model: intern(v.model as string),
    requestClass: intern(v.requestClass),
    pod: intern(v.pod as string),
    gpuSku: intern(v.gpuSku as string),
    gpuCount,
    startedAt,
    firstTokenAt,
    finishedAt,
    promptTokens,
    completionTokens,
    cachedPromptTokens,
    queueMs,
    status,
  };
  const stalls = v.attributes === undefined ? undefined : (v.attributes as Record<string, string>).stalls;
  return stalls === undefined ? record : withStalls(record, stalls);
}

function fastCapacity(
  v: Record<string, unknown>,
  gpuCount: number,
  intern: Intern,
): AccountingRecord | undefined {
  const windowStart = timestamp(v.windowStart);
  const windowEnd = timestamp(v.windowEnd);
  if (windowStart === undefined || windowEnd === undefined || windowEnd <= windowStart) return undefined;
  return {
    type: 'capacity',
    eventId: v.eventId as string,
    model: intern(v.model as string),
    pod: intern(v.pod as string),
    gpuSku: intern(v.gpuSku as string),
    gpuCount,
    windowStart,
    windowEnd,
  };
}

// The one timestamp parser (a hand-written scanner, as cheap as a quick path of its own would be).
function timestamp(value: unknown): Micros | undefined {
  return typeof value === 'string' ? parseTimestamp(value) : undefined;
}
