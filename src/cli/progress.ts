/**
 * What a long command is doing, on one line of stderr that it rewrites: only where stderr is a
 * terminal, so pipes, logs and tests see none of it (docs/cli.md, "Output").
 */
export interface Progress {
  /** The stage now under way, e.g. `reading events: 120,000 lines`. */
  readonly step: (message: string) => void;
  /** Clears the line, before the command prints its result. */
  readonly done: () => void;
}

export const silentProgress: Progress = { step: () => undefined, done: () => undefined };

/** A terminal rewrites the line at most every `everyMs`; anything else gets silence. */
export function progressOn(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  everyMs = 250,
  clock: () => number = () => performance.now(),
): Progress {
  if (stream.isTTY !== true) return silentProgress;
  let last = -Infinity;
  let shown = false;
  return {
    step: (message) => {
      const now = clock();
      if (now - last < everyMs) return;
      last = now;
      shown = true;
      // \r and "erase line": the next message replaces this one instead of scrolling.
      stream.write(`\r\x1b[2K${message}`);
    },
    done: () => {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
