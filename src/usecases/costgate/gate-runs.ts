import { z } from 'zod';
import { EventAccumulator } from '../../domain/accumulator.js';
import { judgeCost, trafficOf, type CostGateResult } from '../../domain/costgate/gate.js';
import { renderJson, renderMarkdown } from '../../domain/costgate/render.js';
import { runCosts, type RunCosts } from '../../domain/costgate/run-costs.js';
import { addDays } from '../../domain/days.js';
import { PermanentError } from '../../domain/errors.js';
import { parseRecordText } from '../../domain/fast-parse.js';
import type { DailyMetrics } from '../../domain/metrics/metrics.js';
import { parseMetrics } from '../../domain/metrics/parse.js';
import type { PriceCard } from '../../domain/prices.js';
import type { Weighting } from '../../domain/weighting.js';
import type { ReportStore } from '../../ports/report-store.js';
import { isRunFolder, type RunStore } from '../../ports/run-store.js';

/** The body of `POST /api/cost-gate` (the command line's options, for runs uploaded to Blob). */
const requestSchema = z.strictObject({
  baseline: z
    .string()
    .refine(isRunFolder, { error: 'must be a folder under runs/ (letters, digits, . _ - /)' }),
  candidate: z
    .string()
    .refine(isRunFolder, { error: 'must be a folder under runs/ (letters, digits, . _ - /)' }),
  days: z.number().int().min(1).max(366).default(28),
  maxIncreasePct: z.number().min(0).max(10_000).default(5),
  minRequests: z.number().int().min(1).max(1_000_000).default(20),
  /** Judge only this model's groups, as `cost-gate --model` (a canary of one model). */
  model: z.string().min(1, { error: 'must name a model' }).max(256).optional(),
});
export type CostGateRequest = z.infer<typeof requestSchema>;

export function parseCostGateRequest(body: unknown): CostGateRequest | { readonly error: string } {
  const parsed = requestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.map(String).join('.') ?? '';
  return { error: `${where === '' ? 'body' : where}: ${issue?.message ?? 'invalid'}` };
}

export interface GateRunsDeps {
  readonly runs: RunStore;
  readonly reports: Pick<ReportStore, 'metrics'>;
  readonly prices: PriceCard;
  readonly weighting: Weighting;
  readonly now: () => Date;
}

export interface GateRunsOutcome {
  readonly result: CostGateResult;
  readonly markdown: string;
  readonly json: string;
  /** Lines of the runs refused, with where and why (at most 20 listed). */
  readonly refused: readonly string[];
  readonly refusedCount: number;
}

/** The same gate as `chargeback cost-gate`, on runs in the RunStore and the stored daily metrics. */
export async function gateRuns(request: CostGateRequest, deps: GateRunsDeps): Promise<GateRunsOutcome> {
  const refused: string[] = [];
  let refusedCount = 0;
  const costs = async (folder: string, name: string): Promise<RunCosts> => {
    const files = await deps.runs.files(folder);
    if (files.length === 0) throw new PermanentError(`${name}: no *.ndjson or *.jsonl file under ${folder}`);
    const accumulator = new EventAccumulator<string>(deps.prices);
    for (const file of files) {
      const lines = (await deps.runs.text(file)).split('\n');
      lines.forEach((text, i) => {
        if (text.trim() === '') return;
        const where = `${file}:${i + 1}`;
        const reason = accumulator.add(parseRecordText(text, accumulator.intern), where);
        if (reason === undefined) return;
        refusedCount += 1;
        if (refused.length < 20) refused.push(`${where}: ${reason}`);
      });
    }
    return runCosts({
      usage: accumulator.usage(),
      capacity: accumulator.capacity(),
      prices: deps.prices,
      weighting: deps.weighting,
    });
  };
  const baseline = await costs(request.baseline, 'baseline');
  const candidate = await costs(request.candidate, 'candidate');
  const today = deps.now().toISOString().slice(0, 10);
  const metrics: DailyMetrics[] = [];
  for (let back = request.days; back >= 1; back -= 1) {
    const day = addDays(today, -back);
    const text = await deps.reports.metrics(day);
    if (text !== undefined) metrics.push(parseMetrics(text));
  }
  const result = judgeCost({
    baseline,
    candidate,
    traffic: trafficOf(metrics),
    maxIncreasePct: request.maxIncreasePct,
    minRequests: request.minRequests,
    ...(request.model === undefined ? {} : { model: request.model }),
  });
  return { result, markdown: renderMarkdown(result), json: renderJson(result), refused, refusedCount };
}
