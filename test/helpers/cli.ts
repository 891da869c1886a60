import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * The command line as a real process, run from the TypeScript source through tsx, so a test never
 * runs an old build in dist/ (bin/chargeback.js loads that one; only a test run after
 * `npm run build`, as `npm test` does, may use it).
 */
export const CLI_FROM_SOURCE: readonly string[] = ['--import', 'tsx', 'src/cli/entry.ts'];

/** Starts `chargeback ...args` from source, from the repository root. */
export function spawnCli(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [...CLI_FROM_SOURCE, ...args], options);
}

/** Runs `chargeback ...args` from source to its end: its exit code and what it printed. */
export function runCli(
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}
