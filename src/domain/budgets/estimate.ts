import { nanosPerGpuMicro, type PriceCard } from '../prices.js';
import type { UsageRecord } from '../records.js';
import type { Spent } from './state.js';

/**
 * The estimated cost of one accepted usage event, for budgets only (the daily report's exact
 * figures are the bill): the GPU time the request held from the end of its queue to its end, times
 * its GPU count, divided among the requests its pod worked on meanwhile (`sharedBy`, the event's
 * `meanConcurrency` attribute, which the sidecar measures), at the price card's rate for its SKU at
 * its end. That is the time-share of its window, which differs from the step-cost allocation by
 * the share of prefill and decode work, not by the batch. Without the attribute (an event from
 * another sender) the request is counted whole, so the estimate errs high, towards enforcing early.
 */
export function estimateSpend(record: UsageRecord, prices: PriceCard, sharedBy = 1): Spent {
  const period = prices.at(record.gpuSku, record.finishedAt);
  if (period === undefined) return { nanos: 0, gpuMicros: 0 };
  const start = Math.min(record.finishedAt, record.startedAt + Math.round(record.queueMs * 1000));
  const held = Math.max(0, record.finishedAt - start) * record.gpuCount;
  const gpuMicros = Math.round(held / Math.max(1, Number.isFinite(sharedBy) ? sharedBy : 1));
  return { nanos: Math.round(gpuMicros * nanosPerGpuMicro(period)), gpuMicros };
}
