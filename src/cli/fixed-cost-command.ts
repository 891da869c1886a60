import { readFile } from 'node:fs/promises';
import { ConfigurationError } from '../domain/errors.js';
import { fixedCostOf, HOURS_PER_MONTH, type FixedCost } from '../domain/infra/fixed-cost.js';
import { dollars } from '../domain/exact.js';
import { formatMoney, moneyNumber } from '../domain/report/format.js';
import type { Nanos } from '../domain/prices.js';
import { INSTANT_HELP, instantOf, parseArgsOrThrow } from './args.js';
import { DEFAULT_PRICES_HELP, pricesPathOf, readPricesOption } from './prices-option.js';
import { UsageError } from './usage-error.js';

export const FIXED_COST_HELP = `Usage: chargeback fixed-cost --snapshot FILE [--prices FILE] [--at TIMESTAMP] [--json]

The GPU cost the infrastructure commits to, from a Bicep snapshot (bicep/dev.snapshot.json,
bicep/prod.snapshot.json; 'npm run bicep:snapshot' writes them) and the price card: each AKS node
pool at its autoscaler's minimum (paid whatever the traffic) and maximum, in USD a month of
${HOURS_PER_MONTH} hours, and each Azure ML training cluster per hour of training at its largest size.
A system pool whose VM size is not on the price card is named and left out of the totals; a GPU pool
or training cluster without a price is an error.
  --prices FILE   the price card (default: ${DEFAULT_PRICES_HELP})
  --at TIMESTAMP  prices in force at that instant, ${INSTANT_HELP} (default: now); a day
                  YYYY-MM-DD, its old form, is still read as its 00:00 UTC, with a warning
  --json          print JSON instead of a table
Exit 0 when printed, 2 on bad arguments or an unreadable snapshot or price card.`;

export interface FixedCostOptions {
  readonly snapshotPath: string;
  readonly pricesPath: string;
  readonly at: number;
  readonly json: boolean;
}

export function parseFixedCostArgs(
  args: readonly string[],
  now = new Date(),
  notice: (message: string) => void = () => undefined,
): FixedCostOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    snapshot: { type: 'string' },
    prices: { type: 'string' },
    at: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  if (typeof values.snapshot !== 'string') throw new UsageError('fixed-cost needs --snapshot FILE');
  let at = now.getTime() * 1000;
  if (typeof values.at === 'string') {
    const parsed = instantOf(values.at, { notice });
    if (parsed === undefined)
      throw new UsageError(
        `--at must be a day YYYY-MM-DD (its old form) or ${INSTANT_HELP}, got "${values.at}"`,
      );
    at = parsed;
  }
  return {
    snapshotPath: values.snapshot,
    pricesPath: pricesPathOf(values.prices),
    at,
    json: values.json === true,
  };
}

/** Reads the snapshot and the price card and returns the estimate. */
export async function estimateFixedCost(options: FixedCostOptions): Promise<FixedCost> {
  let snapshot: unknown;
  try {
    snapshot = JSON.parse(await readFile(options.snapshotPath, 'utf8'));
  } catch (error) {
    throw new ConfigurationError(`--snapshot ${options.snapshotPath}: ${(error as Error).message}`);
  }
  const prices = await readPricesOption(options.pricesPath);
  try {
    return fixedCostOf(snapshot, prices, options.at);
  } catch (error) {
    if (error instanceof ConfigurationError)
      throw new ConfigurationError(`--snapshot ${options.snapshotPath}: ${error.message}`);
    throw error;
  }
}

export async function runFixedCost(options: FixedCostOptions): Promise<string> {
  const cost = await estimateFixedCost(options);
  return options.json
    ? JSON.stringify(fixedCostJson(cost), null, 2)
    : renderFixedCost(cost, options.snapshotPath);
}

/** The estimate as JSON: money in the currency's units with 6 decimals, like the daily summary. */
export function fixedCostJson(cost: FixedCost): Record<string, unknown> {
  const money = (nanos: Nanos | undefined): number | null =>
    nanos === undefined ? null : moneyNumber(nanos);
  return {
    currency: cost.currency,
    hoursPerMonth: HOURS_PER_MONTH,
    monthlyAtMin: money(cost.monthlyAtMinNanos),
    monthlyAtMax: money(cost.monthlyAtMaxNanos),
    pools: cost.pools.map((p) => ({
      name: p.name,
      vmSize: p.vmSize,
      mode: p.mode,
      minCount: p.minCount,
      maxCount: p.maxCount,
      gpusPerVm: p.gpusPerVm ?? null,
      pricePerVmHour: money(p.vmHourNanos),
      monthlyAtMin: money(p.monthlyAtMinNanos),
      monthlyAtMax: money(p.monthlyAtMaxNanos),
    })),
    training: cost.training.map((t) => ({
      name: t.name,
      vmSize: t.vmSize,
      minNodes: t.minNodes,
      maxNodes: t.maxNodes,
      gpusPerVm: t.gpusPerVm,
      pricePerVmHour: money(t.vmHourNanos),
      perHourAtMax: money(t.hourAtMaxNanos),
      monthlyAtMin: money(t.monthlyAtMinNanos),
    })),
    unpriced: cost.unpriced,
  };
}

/** Whole cents, rounded half up, with thousands separators: 21450.316 -> 21,450.32. */
export function formatCents(nanos: Nanos): string {
  return dollars(BigInt(Math.round(nanos)), 2, false, '');
}

export function renderFixedCost(cost: FixedCost, source: string): string {
  const rows = [
    ['pool', 'VM size', 'GPUs/VM', 'nodes', `${cost.currency}/VM-hour`, 'monthly at min', 'monthly at max'],
  ];
  for (const p of cost.pools) {
    rows.push([
      p.name,
      p.vmSize,
      p.gpusPerVm === undefined ? '-' : String(p.gpusPerVm),
      `${p.minCount}-${p.maxCount}`,
      p.vmHourNanos === undefined ? 'not priced' : formatMoney(p.vmHourNanos).replace(/0{1,3}$/, ''),
      p.monthlyAtMinNanos === undefined ? '-' : formatCents(p.monthlyAtMinNanos),
      p.monthlyAtMaxNanos === undefined ? '-' : formatCents(p.monthlyAtMaxNanos),
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const table = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  const lines = [
    `Fixed GPU cost of ${source} (${cost.currency}, ${HOURS_PER_MONTH} hours a month)`,
    '',
    ...table,
    '',
  ];
  for (const t of cost.training) {
    lines.push(
      `training cluster ${t.name}: ${t.vmSize} (${t.gpusPerVm} GPUs), ${t.minNodes}-${t.maxNodes} nodes: ` +
        `${formatCents(t.hourAtMaxNanos)} per hour of training at ${t.maxNodes} node(s); ` +
        `${formatCents(t.monthlyAtMinNanos)} a month idle`,
    );
  }
  lines.push(
    `total: ${formatCents(cost.monthlyAtMinNanos)} a month at the pools' minimum, ` +
      `${formatCents(cost.monthlyAtMaxNanos)} at their maximum`,
  );
  for (const note of cost.unpriced) lines.push(`not in the totals: ${note}`);
  return lines.join('\n');
}
