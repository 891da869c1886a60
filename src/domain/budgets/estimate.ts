import { nanosPerGpuMicro, type PriceCard } from '../prices.js';
import type { UsageRecord } from '../records.js';
import type { Spent } from './state.js';

/**
 * The estimated cost of one accepted usage event, for budgets only (the daily report's exact
 * figures are the bill): the GPU time the request held from the end of its queue to its end, times
 * its GPU count, at the price card's rate for its SKU at its end. A request that shared its GPUs
 * with others in a batch is counted whole, so the estimate errs high, towards enforcing early.
 */
export function estimateSpend(record: UsageRecord, prices: PriceCard): Spent {
  const period = prices.at(record.gpuSku, record.finishedAt);
  if (period === undefined) return { nanos: 0, gpuMicros: 0 };
  const start = Math.min(record.finishedAt, record.startedAt + Math.round(record.queueMs * 1000));
  const gpuMicros = Math.max(0, record.finishedAt - start) * record.gpuCount;
  return { nanos: Math.round(gpuMicros * nanosPerGpuMicro(period)), gpuMicros };
}
