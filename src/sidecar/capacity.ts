import { randomUUID } from 'node:crypto';
import type { PodIdentity } from './proxy-deps.js';

/**
 * Capacity windows (contracts.md §2): one event per `windowMs` while the pod holds its GPUs, and a last,
 * shorter one at shutdown, so that the pod's paid time is covered from start to stop.
 */
export class CapacityClock {
  private windowStart: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly identity: PodIdentity,
    private readonly windowMs: number,
    private readonly emit: (event: Record<string, unknown>) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  start(): void {
    this.timer = setInterval(() => {
      this.close(this.windowStart + this.windowMs);
    }, this.windowMs);
  }

  /** Emits the window up to `end` (default now) and starts the next one there. */
  close(end = this.now()): void {
    if (end <= this.windowStart) return;
    this.emit({
      type: 'capacity',
      schemaVersion: 1,
      eventId: randomUUID(),
      pod: this.identity.pod,
      gpuSku: this.identity.gpuSku,
      gpuCount: this.identity.gpuCount,
      model: this.identity.model,
      windowStart: new Date(this.windowStart).toISOString(),
      windowEnd: new Date(end).toISOString(),
    });
    this.windowStart = end;
  }

  /** The last window, at shutdown. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.close();
  }
}
