import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { main } from '../../src/cli/main.js';

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

function capture(): { stream: NodeJS.WritableStream; text: () => string } {
  let text = '';
  const stream = { write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WritableStream;
  return { stream, text: () => text };
}

/** Runs `chargeback ...args` in this process through `main`, with what it printed. */
export async function runMain(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = capture();
  const stderr = capture();
  const code = await main([...args], { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
