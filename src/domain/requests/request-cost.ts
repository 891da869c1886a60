/**
 * What one request cost on one UTC day: the allocation's per-request result, kept instead of being
 * summed away, so that a request id leads to its GPU-seconds and the reasons for them.
 *
 * GPU-time is in GPU-microseconds and money in nano-dollars, exact integers as apportioned per pod
 * (src/domain/apportion.ts): the costs of a day's requests add up to the day's allocated cost (and,
 * under the `share` idle policy, to allocated + idle) to the nano-dollar.
 */
import type { Nanos } from '../prices.js';
import type { Micros } from '../timestamp.js';

export interface RequestCost {
  readonly requestId: string;
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
  readonly queueMs: number;
  readonly promptTokens: number;
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
  readonly status: 'ok' | 'error' | 'aborted';
  /** False when no capacity window of its pod covered it (contracts.md §4.5): charged 0. */
  readonly metered: boolean;
  /** GPU-microseconds of this day charged to it, all parts together (idle share included). */
  readonly gpuMicros: number;
  /** The part for its own prefill work (uncached prompt tokens), its own decode work, and its share of the fixed per-step cost that every active request splits. */
  readonly prefillGpuMicros: number;
  readonly decodeGpuMicros: number;
  readonly fixedGpuMicros: number;
  /** Its share of the pod's idle time under the `share` idle policy; 0 under `separate`. */
  readonly idleGpuMicros: number;
  /** Cost of this day, nano-dollars, idle share included. */
  readonly nanos: Nanos;
  readonly idleNanos: Nanos;
  /** Requests active on its pod while it was active, itself included: time-weighted mean, and most at once. */
  readonly meanConcurrency: number;
  readonly maxConcurrency: number;
}
