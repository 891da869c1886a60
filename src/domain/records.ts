import type { CapacityEvent, UsageEvent } from './events.js';
import type { Micros } from './timestamp.js';

/** The fields of a usage event that accounting reads; instants in microseconds. */
export interface UsageRecord {
  readonly type: 'usage';
  readonly eventId: string;
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
  return {
    type: 'usage',
    eventId: event.eventId,
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
