import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }>;

/** node:util parseArgs in strict mode, its errors turned into a one-line UsageError. */
export function parseArgsOrThrow(
  args: readonly string[],
  options: OptionSpec,
): { values: Record<string, string | boolean | undefined> } {
  try {
    const { values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
    return { values };
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}
