/**
 * Waits until `condition` holds, checking it every `intervalMs`, instead of a fixed pause that is
 * too short on a loaded machine and wasted time on an idle one. Rejects, naming `what`, when it
 * still does not hold after `timeoutMs` (a bound on a hang, never an assertion on speed).
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: { readonly timeoutMs: number; readonly intervalMs?: number; readonly what?: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what ?? 'a condition'}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}
