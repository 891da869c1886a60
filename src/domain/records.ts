import type { CapacityEvent, UsageEvent } from './events.js';
import { parseStalls, type Stall } from './stalls.js';
import type { Micros } from './timestamp.js';

/** The fields of a usage event that accounting reads; instants in microseconds. */
export interface UsageRecord {
  readonly type: 'usage';
  readonly eventId: string;
  /** The X-Request-Id sent to vLLM: how a person finds the request (not part of its content, see canonicalContent). */
  readonly requestId: string;
  readonly tenant: string;
  readonly feature: string;
  readonly model: string;
  readonly requestClass: string;
  readonly pod: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly startedAt: Micros;
  readonly firstTokenAt: Micros | null;
  readonly finishedAt: Micros;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedPromptTokens: number;
  /** vLLM's queue time in milliseconds; 0 when the event does not report it. */
  readonly queueMs: number;
  readonly status: 'ok' | 'error' | 'aborted';
  /**
   * The stalls its stream showed (attributes.stalls, contracts.md §2), in order; absent when it
   * has none. Not part of its content (canonicalContent): a sidecar sends one version of an event.
   */
  readonly stalls?: readonly Stall[];
  /** Why attributes.stalls was not used (the request is allocated as if it had none). */
  readonly stallsIgnored?: string;
}

/** The fields of a capacity event that accounting reads. */
export interface CapacityRecord {
  readonly type: 'capacity';
  readonly eventId: string;
  readonly model: string;
  readonly pod: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly windowStart: Micros;
  readonly windowEnd: Micros;
}

export type AccountingRecord = UsageRecord | CapacityRecord;

export function usageRecord(event: UsageEvent, intern: (value: string) => string = (v) => v): UsageRecord {
  const record: UsageRecord = {
    type: 'usage',
    eventId: event.eventId,
    requestId: event.requestId,
    tenant: intern(event.tenant),
    feature: intern(event.feature),
    model: intern(event.model),
    requestClass: intern(event.requestClass),
    pod: intern(event.pod),
    gpuSku: intern(event.gpuSku),
    gpuCount: event.gpuCount,
    startedAt: event.startedAt,
    firstTokenAt: event.firstTokenAt,
    finishedAt: event.finishedAt,
    promptTokens: event.promptTokens,
    completionTokens: event.completionTokens,
    cachedPromptTokens: event.cachedPromptTokens ?? 0,
    queueMs: event.queueMs ?? 0,
    status: event.status,
  };
  const stalls = event.attributes?.stalls;
  return stalls === undefined ? record : withStalls(record, stalls);
}

/**
 * The record with its `attributes.stalls` read (contracts.md §2): the stalls when they are sound
 * for this event, else the reason they are not (stallsIgnored) and none. Never a rejection.
 */
export function withStalls(record: UsageRecord, text: string): UsageRecord {
  if (record.firstTokenAt === null)
    return { ...record, stallsIgnored: 'stalls on an event without a first token' };
  const parsed = parseStalls(text, record.completionTokens, (record.finishedAt - record.firstTokenAt) / 1000);
  if ('reason' in parsed) return { ...record, stallsIgnored: parsed.reason };
  return parsed.stalls.length === 0 ? record : { ...record, stalls: parsed.stalls };
}

export function capacityRecord(
  event: CapacityEvent,
  intern: (value: string) => string = (v) => v,
): CapacityRecord {
  return {
    type: 'capacity',
    eventId: event.eventId,
    model: intern(event.model),
    pod: intern(event.pod),
    gpuSku: intern(event.gpuSku),
    gpuCount: event.gpuCount,
    windowStart: event.windowStart,
    windowEnd: event.windowEnd,
  };
}

const USAGE_FIELDS = [
  'type',
  'eventId',
  'tenant',
  'feature',
  'model',
  'requestClass',
  'pod',
  'gpuSku',
  'gpuCount',
  'startedAt',
  'firstTokenAt',
  'finishedAt',
  'promptTokens',
  'completionTokens',
  'cachedPromptTokens',
  'queueMs',
  'status',
] as const satisfies readonly (keyof UsageRecord)[];

const CAPACITY_FIELDS = [
  'type',
  'eventId',
  'model',
  'pod',
  'gpuSku',
  'gpuCount',
  'windowStart',
  'windowEnd',
] as const satisfies readonly (keyof CapacityRecord)[];

/** The fields that make up a record's content, in a fixed order. */
export function contentFields(record: AccountingRecord): readonly string[] {
  return record.type === 'usage' ? USAGE_FIELDS : CAPACITY_FIELDS;
}

/**
 * The canonical content of an event: the values accounting reads, in a fixed order, instants as
 * microseconds. Two versions of an eventId are the same event when their canonical contents are
 * equal, whatever else differs (requestId, httpStatus, attributes, unknown fields, the spelling
 * of a timestamp, an optional count left out or given as 0): none of it changes any report.
 */
export function canonicalContent(record: AccountingRecord): string {
  const fields = contentFields(record);
  return JSON.stringify(fields.map((field) => (record as unknown as Record<string, unknown>)[field]));
}
