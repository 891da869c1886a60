/**
 * What the harness and the workload replay share to stay polite: a start rate shared by every
 * worker, and a fixed number of workers taking items in order.
 */

/** Waits for the next start slot: slots are 1000 / rate ms apart, shared by every caller. */
export function pacer(
  perSecond: number,
  clock: { readonly now: () => number; readonly sleep: (ms: number) => Promise<void> },
): () => Promise<void> {
  const gap = 1000 / perSecond;
  let slot = Number.NEGATIVE_INFINITY;
  return async () => {
    const now = clock.now();
    const mine = Math.max(now, slot + gap);
    slot = mine;
    if (mine > now) await clock.sleep(mine - now);
  };
}

/** Runs `work` on every item, at most `concurrency` at once, each worker taking the next in order. */
export async function eachInParallel<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      const item = items[index];
      if (item !== undefined) await work(item, index);
    }
  };
  const workers = Math.max(1, Math.min(concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
}
