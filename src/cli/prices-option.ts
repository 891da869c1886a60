import { join } from 'node:path';
import { readRegularFile } from '../adapters/files/ndjson.js';
import { SETTINGS } from '../composition/settings.js';
import { ConfigurationError } from '../domain/errors.js';
import { loadPriceCard, type PriceCard } from '../domain/prices.js';
import { PACKAGE_ROOT } from './version.js';
import { UsageError } from './usage-error.js';

/**
 * The price card where `--prices` is optional (docs/cli.md): the card shipped with the package,
 * the Function App's default, found from the installed package and not from the current folder.
 */
export const DEFAULT_PRICES_PATH = join(PACKAGE_ROOT, SETTINGS.PRICE_CARD_PATH.default);

/** How a command's help names that default. */
export const DEFAULT_PRICES_HELP = `the package's ${SETTINGS.PRICE_CARD_PATH.default}`;

/** The path of `--prices`, or the default card when it was left out. */
export function pricesPathOf(value: string | boolean | undefined): string {
  return typeof value === 'string' ? value : DEFAULT_PRICES_PATH;
}

/** Reads the price card of `--prices` (a relative path is the current folder's); a failure is exit 2. */
export async function readPricesOption(path: string): Promise<PriceCard> {
  let text: string;
  try {
    text = await readRegularFile(path);
  } catch (error) {
    throw new UsageError(`cannot read --prices ${path}: ${(error as Error).message}`);
  }
  try {
    return loadPriceCard(JSON.parse(text));
  } catch (error) {
    const message =
      error instanceof ConfigurationError ? error.message : `not valid JSON: ${(error as Error).message}`;
    throw new UsageError(`--prices ${path}: ${message}`);
  }
}
