/**
 * Cost-gate runs uploaded for `POST /api/cost-gate`: NDJSON files of usage and capacity events under
 * a folder (`runs/<name>/`) of the reports container.
 */
export interface RunStore {
  /** The NDJSON files (`*.ndjson`, `*.jsonl`) under a folder, sorted; empty when there are none. */
  files(folder: string): Promise<string[]>;
  /** A file's text; throws a PermanentError naming it when it is not UTF-8. */
  text(name: string): Promise<string>;
}

/** Where runs live, and a folder name a caller may give: `runs/` and letters, digits, `.`, `_`, `-`, `/`. */
export const RUNS_PREFIX = 'runs/';

export function isRunFolder(folder: string): boolean {
  return (
    folder.startsWith(RUNS_PREFIX) &&
    folder.length > RUNS_PREFIX.length &&
    folder.length <= 512 &&
    /^[A-Za-z0-9._/-]+$/.test(folder) &&
    !folder.split('/').some((part) => part === '..' || part === '.')
  );
}
