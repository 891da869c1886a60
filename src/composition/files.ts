import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBudgetsText, type BudgetsFile } from '../domain/budgets/budgets.js';
import { ConfigurationError } from '../domain/errors.js';
import { parseDriftRules, type DriftRules } from '../domain/drift/rules.js';
import { parseGateRules } from '../domain/gate/rules.js';
import { loadPriceCard, type PriceCard } from '../domain/prices.js';
import type { RulesOrError } from '../usecases/quality/evaluate.js';

/** The files the app reads at start (price card, drift rules, gate rules, retraining config), relative to the package root. */

// The package root: the nearest folder up from this file with a package.json (src/ or dist/src/).
const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

export function readPriceCard(path: string): PriceCard {
  return readPriceCardFile(path).prices;
}

/** The price card at `path` (relative to the package root) and the SKUs it lists. */
export function readPriceCardFile(path: string): { prices: PriceCard; skus: string[] } {
  const full = isAbsolute(path) ? path : join(ROOT, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`PRICE_CARD_PATH: cannot read ${full}: ${(error as Error).message}`);
  }
  try {
    const raw = JSON.parse(text) as unknown;
    const prices = loadPriceCard(raw);
    // loadPriceCard accepted it, so `skus` is a list of entries with a string `sku`.
    const skus = (raw as { skus: { sku: string }[] }).skus.map((entry) => entry.sku);
    return { prices, skus: [...new Set(skus)].sort() };
  } catch (error) {
    throw new ConfigurationError(`PRICE_CARD_PATH: ${full}: ${(error as Error).message}`);
  }
}

/** The spend budgets file at `path` (relative to the package root, like the price card). */
export function readBudgetsFile(path: string): BudgetsFile {
  const full = isAbsolute(path) ? path : join(ROOT, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`BUDGETS_PATH: cannot read ${full}: ${(error as Error).message}`);
  }
  try {
    return parseBudgetsText(text);
  } catch (error) {
    throw new ConfigurationError(`BUDGETS_PATH: ${full}: ${(error as Error).message}`);
  }
}

/** The drift rules file at `path` (relative to the package root, like the price card). */
export function readDriftRules(path: string): DriftRules {
  const full = isAbsolute(path) ? path : join(ROOT, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`DRIFT_RULES_PATH: cannot read ${full}: ${(error as Error).message}`);
  }
  try {
    return parseDriftRules(JSON.parse(text) as unknown);
  } catch (error) {
    throw new ConfigurationError(`DRIFT_RULES_PATH: ${full}: ${(error as Error).message}`);
  }
}

/**
 * The gate rules at `path`, or why they cannot be read. Never throws: an unreadable rules file must
 * not stop the app (ingestion and reports go on); it makes every gate fail closed, with the reason.
 */
export function readGateRules(path: string): RulesOrError {
  try {
    return readJsonFile('QUALITY_RULES_PATH', path, parseGateRules);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export function readJsonFile<T>(setting: string, path: string, parse: (value: unknown) => T): T {
  const full = isAbsolute(path) ? path : join(ROOT, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`${setting}: cannot read ${full}: ${(error as Error).message}`);
  }
  try {
    return parse(JSON.parse(text) as unknown);
  } catch (error) {
    throw new ConfigurationError(`${setting}: ${full}: ${(error as Error).message}`);
  }
}
