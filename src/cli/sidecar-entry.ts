/**
 * The sidecar image's process: `chargeback sidecar` and nothing else. The image is compiled from
 * this file (tsconfig.sidecar.json), so it holds only what this file imports: the sidecar, its
 * argument parsing and the domain's error types, none of the report, ledger or Functions code and
 * none of their packages. Arguments, environment and exit statuses are those of `chargeback sidecar`.
 */
import { ConfigurationError } from '../domain/errors.js';
import { parseSidecarArgs, runSidecar, SIDECAR_HELP } from './sidecar-command.js';
import { UsageError } from './usage-error.js';

async function sidecarMain(args: readonly string[]): Promise<number> {
  try {
    const settings = parseSidecarArgs(args);
    if (settings === 'help') {
      process.stdout.write(`${SIDECAR_HELP}\n`);
      return 0;
    }
    await runSidecar(settings, (m) => process.stderr.write(`${m}\n`));
    return 0;
  } catch (error) {
    // As `chargeback sidecar`: one line on stderr, 2 for what the operator set wrong (contracts.md §6).
    const usage = error instanceof UsageError || error instanceof ConfigurationError;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`chargeback: ${usage ? '' : 'sidecar failed: '}${oneLine(message)}\n`);
    return usage ? 2 : 1;
  }
}

// A value quoted in a message (an environment variable, a path) may hold a line break or a
// terminal escape of its own; the main CLI prints its errors the same way.
function oneLine(message: string): string {
  return message
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// eslint-disable-next-line no-control-regex -- control characters are what must not reach a terminal
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

process.exitCode = await sidecarMain(process.argv.slice(2));
