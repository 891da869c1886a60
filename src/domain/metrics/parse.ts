import { z } from 'zod';
import { isDay } from '../days.js';
import { PermanentError } from '../errors.js';
import { BIN_EDGES, histogramTotal } from './histogram.js';
import {
  HISTOGRAMS,
  METRICS_SCHEMA_VERSION,
  NO_EXACT_SPEND,
  type DailyMetrics,
  type HistogramName,
} from './metrics.js';

// Reading `metrics-DATE.json` back (contracts.md §8): the drift rules, the monthly report and the cost gate
// add days bin by bin, so a file whose bins differ from this code's, or whose histograms do not
// hold its request counts, would give wrong figures without a word; it is refused instead.

const count = z.number().int().min(0);
const amount = z.number().min(0);
const money = z.number();
const text = z.string();

const histogram = (name: HistogramName) =>
  z.array(count).max(BIN_EDGES[name].length, { error: `has more bins than the ${name} edges` });

const histograms = z.object(
  Object.fromEntries(HISTOGRAMS.map((name) => [name, histogram(name)])) as Record<
    HistogramName,
    ReturnType<typeof histogram>
  >,
);

type Counted = Readonly<{
  requests: number;
  requestsWithFirstToken: number;
  histograms: Record<HistogramName, readonly number[]>;
}>;

function histogramsHoldRequests(whose: string) {
  return (counted: Counted, ctx: z.RefinementCtx): void => {
    for (const name of HISTOGRAMS) {
      // Time to first token counts only the requests that had one; every other histogram all of them.
      const expected = name === 'ttftMs' ? counted.requestsWithFirstToken : counted.requests;
      const total = histogramTotal(counted.histograms[name]);
      if (total !== expected) {
        ctx.addIssue({
          code: 'custom',
          path: ['histograms', name],
          message: `counts ${total} requests, ${whose} ${expected}`,
        });
      }
    }
  };
}

const group = z
  .object({
    tenant: text,
    feature: text,
    model: text,
    requestClass: text,
    requests: count,
    errorRequests: count,
    abortedRequests: count,
    requestsWithFirstToken: count,
    promptTokens: count,
    completionTokens: count,
    cachedPromptTokens: count,
    gpuSeconds: amount,
    costUsd: money,
    histograms,
  })
  .superRefine(histogramsHoldRequests('the group'));

const served = z
  .object({
    requests: count,
    errorRequests: count,
    abortedRequests: count,
    requestsWithFirstToken: count,
    histograms,
  })
  .superRefine(histogramsHoldRequests('the pod'));

const capacity = z.object({
  model: text,
  pod: text.optional(),
  gpuSku: text.optional(),
  gpuCount: count.optional(),
  fleetGpuSeconds: amount,
  allocatedGpuSeconds: amount,
  idleGpuSeconds: amount,
  fleetCostUsd: money,
  allocatedCostUsd: money,
  idleCostUsd: money,
  served: served.optional(),
});

const fleet = z.object({
  fleetCostUsd: money,
  allocatedCostUsd: money,
  idleCostUsd: money,
  fleetGpuSeconds: amount,
  allocatedGpuSeconds: amount,
  idleGpuSeconds: amount,
  eventsRead: count,
  usageEvents: count,
  capacityEvents: count,
  duplicatesDropped: count,
  rejected: count,
  unmeteredRequests: count,
});

const sameEdges = (name: HistogramName) =>
  z
    .array(z.number())
    .refine(
      (edges) => edges.length === BIN_EDGES[name].length && edges.every((e, i) => e === BIN_EDGES[name][i]),
      {
        error: `differ from the ${name} bin edges of schemaVersion ${METRICS_SCHEMA_VERSION}`,
      },
    );

const finite = z.number().refine(Number.isFinite, { error: 'must be a finite number' });
const constants = z.object({
  fixedMs: finite,
  prefillMsPerToken: finite,
  decodeMsPerToken: finite,
  decodeMsPerContextToken: finite,
});
const calibration = z.object({
  model: text,
  gpuSku: text,
  gpuCount: count.min(1),
  source: z.enum(['fitted', 'configured']),
  reason: text.optional(),
  requests: count,
  fitted: constants.optional(),
  prefillAttentionPerContextToken: finite.refine((v) => v >= 0, { error: 'must be 0 or more' }).optional(),
  standardErrors: constants.optional(),
  residualMs: finite.optional(),
});

// A budget scope's closed day: the relative error is a figure exactly when the exact spend is not
// 0, and a null one says why, so a scope without spend never reads as "100% off".
const budgetScope = z
  .object({
    scope: z
      .object({ tenant: text.optional(), feature: text.optional() })
      .refine((s) => s.tenant !== undefined || s.feature !== undefined, {
        error: 'must name a tenant, a feature, or both',
      }),
    periods: z.array(z.enum(['day', 'month'])).min(1, { error: 'must name at least one period' }),
    estimateUsd: amount,
    exactUsd: amount,
    estimateGpuHours: amount,
    exactGpuHours: amount,
    relativeError: finite.nullable(),
    reason: z.literal(NO_EXACT_SPEND).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.exactUsd === 0 && b.relativeError !== null)
      ctx.addIssue({ code: 'custom', path: ['relativeError'], message: 'must be null when exactUsd is 0' });
    if (b.exactUsd > 0 && b.relativeError === null)
      ctx.addIssue({
        code: 'custom',
        path: ['relativeError'],
        message: 'must be a number when exactUsd is above 0',
      });
    if ((b.relativeError === null) !== (b.reason !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['reason'],
        message: `must be ${JSON.stringify(NO_EXACT_SPEND)} exactly when relativeError is null`,
      });
  });

const metricsSchema = z.object({
  schemaVersion: z.literal(METRICS_SCHEMA_VERSION),
  date: text.refine(isDay, { error: 'must be a calendar day YYYY-MM-DD' }),
  revision: count,
  generatedAt: text,
  currency: text,
  fleet,
  bins: z.object(
    Object.fromEntries(HISTOGRAMS.map((name) => [name, sameEdges(name)])) as Record<
      HistogramName,
      ReturnType<typeof sameEdges>
    >,
  ),
  groups: z.array(group),
  models: z.array(capacity),
  pods: z.array(capacity),
  calibration: z
    .array(
      calibration.refine((c) => c.source !== 'fitted' || c.fitted !== undefined, {
        error: 'is fitted but has no fitted constants',
      }),
    )
    .optional(),
  budgets: z.array(budgetScope).optional(),
});

/**
 * A daily metrics file, validated: the schemaVersion this code reads, its bin edges, numbers of the
 * right kind, and every histogram holding its group's requests. Throws PermanentError naming the
 * first problem's field (the file will not get better by reading it again).
 */
export function parseMetrics(textOfFile: string): DailyMetrics {
  let json: unknown;
  try {
    json = JSON.parse(textOfFile);
  } catch (error) {
    throw new PermanentError(`metrics file is not JSON: ${(error as Error).message}`);
  }
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== METRICS_SCHEMA_VERSION) {
    throw new PermanentError(
      `metrics file has schemaVersion ${version === undefined ? '(missing)' : JSON.stringify(version)}; this code reads ${METRICS_SCHEMA_VERSION}`,
    );
  }
  const parsed = metricsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') ?? '';
    throw new PermanentError(
      `metrics file: ${where.replace(/^\./, '') || '(top level)'} ${issue?.message ?? 'is invalid'}`,
    );
  }
  return parsed.data;
}
