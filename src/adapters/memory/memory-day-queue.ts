import type { DayMessage, DayQueue } from '../../ports/day-queue.js';

/** The day queue in memory: messages wait in `pending` until a test takes them. */
export class MemoryDayQueue implements DayQueue {
  readonly pending: DayMessage[] = [];

  enqueue(messages: readonly DayMessage[]): Promise<void> {
    this.pending.push(...messages);
    return Promise.resolve();
  }

  /** Removes and returns every waiting message, oldest first. */
  take(): DayMessage[] {
    return this.pending.splice(0, this.pending.length);
  }
}
