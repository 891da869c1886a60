import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { judgeCost, trafficOf, type CostGateResult } from '../domain/costgate/gate.js';
import { renderJson, renderMarkdown, type FixedChange } from '../domain/costgate/render.js';
import { runCosts } from '../domain/costgate/run-costs.js';
import { addDays } from '../domain/days.js';
import { ConfigurationError } from '../domain/errors.js';
import type { DailyMetrics } from '../domain/metrics/metrics.js';
import { parseMetrics } from '../domain/metrics/parse.js';
import { DEFAULT_WEIGHTING } from '../domain/weighting.js';
import { parseArgsOrThrow } from './args.js';
import { DEFAULT_PRICES_HELP, pricesPathOf, readPricesOption } from './prices-option.js';
import { readEventSet } from './event-input.js';
import { estimateFixedCost } from './fixed-cost-command.js';
import { UsageError } from './usage-error.js';

export const COST_GATE_HELP = `Usage: chargeback cost-gate --baseline PATH --candidate PATH --traffic DIR --out DIR
                           [--days N] [--max-increase PCT] [--min-requests N] [--prices FILE]
                           [--baseline-infra SNAPSHOT --candidate-infra SNAPSHOT] [--model NAME]
       (--reports DIR is the same as --traffic DIR: the daily reports folder, as other commands name it)

What a release would do to the monthly GPU bill, before it ships. --baseline and --candidate are
the usage and capacity events (NDJSON file or folder) of the current and the candidate release
serving the same replayed or canary workload through the sidecar. Both are allocated with the
daily report's rules; each (feature, model, requestClass)'s cost per request is projected onto its
real volume over the last N days (default 28) of the daily metrics in --traffic, for a month of
730 hours. Writes DIR/cost-gate.md (a pull-request comment) and DIR/cost-gate.json.
  --prices FILE       the price card (default: ${DEFAULT_PRICES_HELP})
  --max-increase PCT  the largest monthly increase that passes (default 5)
  --min-requests N    fewest requests a group must have in each run to be measured (default 20)
  --model NAME        judge only this model's groups of real traffic (a canary of one model); the
                      runs' groups of other models are listed, not judged. A model without real
                      traffic in the days read fails closed
  --baseline-infra, --candidate-infra  Bicep snapshots: the fixed cost of the GPU pools, shown
                      beside the usage-based change (npm run bicep:snapshot writes them)
Exit 0 when the projected increase is within the limit, 1 when above it or when evidence is
missing (a group with real traffic absent from a run or measured too few times; reasons printed),
2 on bad arguments.`;

export interface CostGateOptions {
  readonly baseline: string;
  readonly candidate: string;
  readonly traffic: string;
  readonly outDir: string;
  readonly days: number;
  readonly maxIncreasePct: number;
  readonly minRequests: number;
  readonly pricesPath: string;
  readonly infra?: { readonly baseline: string; readonly candidate: string };
  /** Judge only this model's groups (contracts.md §11, extension). */
  readonly model?: string;
}

// contracts.md §11 names the reports folder --traffic; the shared grammar's --reports is read as the same.
const SPELLINGS = [{ from: 'reports', to: 'traffic', deprecated: false }] as const;

export function parseCostGateArgs(
  args: readonly string[],
  notice?: (message: string) => void,
): CostGateOptions | 'help' {
  const { values } = parseArgsOrThrow(
    args,
    {
      baseline: { type: 'string' },
      candidate: { type: 'string' },
      traffic: { type: 'string' },
      out: { type: 'string' },
      days: { type: 'string' },
      'max-increase': { type: 'string' },
      'min-requests': { type: 'string' },
      prices: { type: 'string' },
      'baseline-infra': { type: 'string' },
      'candidate-infra': { type: 'string' },
      model: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    { spellings: SPELLINGS, ...(notice === undefined ? {} : { notice }) },
  );
  if (values.help === true) return 'help';
  const text = (name: string): string | undefined =>
    typeof values[name] === 'string' ? values[name] : undefined;
  const missing = ['baseline', 'candidate', 'traffic', 'out'].filter((name) => text(name) === undefined);
  if (missing.length > 0) throw new UsageError(`cost-gate needs ${missing.map((m) => `--${m}`).join(', ')}`);
  const whole = (name: string, fallback: number, min: number, max: number): number => {
    const value = text(name);
    if (value === undefined) return fallback;
    if (!/^\d{1,6}$/.test(value) || Number(value) < min || Number(value) > max)
      throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
    return Number(value);
  };
  const increase = text('max-increase') ?? '5';
  if (!/^\d{1,4}(\.\d{1,2})?$/.test(increase))
    throw new UsageError(`--max-increase must be a percentage such as 5 or 2.5, got "${increase}"`);
  const baselineInfra = text('baseline-infra');
  const candidateInfra = text('candidate-infra');
  if ((baselineInfra === undefined) !== (candidateInfra === undefined))
    throw new UsageError('--baseline-infra and --candidate-infra go together');
  const model = text('model');
  if (model?.trim() === '') throw new UsageError('--model needs a model name, got an empty one');
  return {
    baseline: text('baseline') ?? '',
    candidate: text('candidate') ?? '',
    traffic: text('traffic') ?? '',
    outDir: text('out') ?? '',
    days: whole('days', 28, 1, 366),
    maxIncreasePct: Number(increase),
    minRequests: whole('min-requests', 20, 1, 1_000_000),
    pricesPath: pricesPathOf(values.prices),
    ...(baselineInfra !== undefined && candidateInfra !== undefined
      ? { infra: { baseline: baselineInfra, candidate: candidateInfra } }
      : {}),
    ...(model === undefined ? {} : { model }),
  };
}

export interface CostGateOutcome {
  readonly result: CostGateResult;
  readonly markdown: string;
  readonly code: 0 | 1;
  readonly warnings: readonly string[];
}

export async function runCostGate(options: CostGateOptions, now = new Date()): Promise<CostGateOutcome> {
  const prices = await readPricesOption(options.pricesPath);
  const [baseline, candidate] = [
    await readEventSet(options.baseline, prices, '--baseline'),
    await readEventSet(options.candidate, prices, '--candidate'),
  ];
  const warnings = [
    ...(baseline.rejected.length > 0
      ? [`${baseline.rejected.length} line(s) of --baseline refused, first: ${baseline.rejected[0] ?? ''}`]
      : []),
    ...(candidate.rejected.length > 0
      ? [`${candidate.rejected.length} line(s) of --candidate refused, first: ${candidate.rejected[0] ?? ''}`]
      : []),
  ];
  const traffic = trafficOf(await lastDays(options.traffic, options.days));
  const result = judgeCost({
    baseline: runCosts({ ...baseline, prices, weighting: DEFAULT_WEIGHTING }),
    candidate: runCosts({ ...candidate, prices, weighting: DEFAULT_WEIGHTING }),
    traffic,
    maxIncreasePct: options.maxIncreasePct,
    minRequests: options.minRequests,
    ...(options.model === undefined ? {} : { model: options.model }),
  });
  let fixed: FixedChange | undefined;
  if (options.infra !== undefined) {
    const at = now.getTime() * 1000;
    const estimate = (snapshotPath: string) =>
      estimateFixedCost({ snapshotPath, pricesPath: options.pricesPath, at, json: true });
    fixed = {
      baseline: await estimate(options.infra.baseline),
      candidate: await estimate(options.infra.candidate),
    };
  }
  const markdown = renderMarkdown(result, fixed);
  await mkdir(options.outDir, { recursive: true });
  for (const [name, text] of [
    ['cost-gate.md', markdown],
    ['cost-gate.json', renderJson(result, fixed)],
  ] as const) {
    const path = join(options.outDir, name);
    await writeFile(`${path}.partial`, text);
    await rename(`${path}.partial`, path);
  }
  return { result, markdown, code: result.verdict === 'pass' ? 0 : 1, warnings };
}

/** The metrics of the last `count` days up to the latest one in the folder (the days found). */
async function lastDays(dir: string, count: number): Promise<DailyMetrics[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new UsageError(`cannot read --traffic ${dir}: ${(error as Error).message}`);
  }
  const days = names
    .map((n) => /^metrics-(\d{4}-\d{2}-\d{2})\.json$/.exec(n)?.[1])
    .filter((d): d is string => d !== undefined)
    .sort();
  const latest = days.at(-1);
  if (latest === undefined) return [];
  const first = addDays(latest, -(count - 1));
  const metrics: DailyMetrics[] = [];
  for (const day of days.filter((d) => d >= first)) {
    try {
      metrics.push(parseMetrics(await readFile(join(dir, `metrics-${day}.json`), 'utf8')));
    } catch (error) {
      throw new ConfigurationError(`--traffic ${dir}: metrics-${day}.json: ${(error as Error).message}`);
    }
  }
  return metrics;
}
