import { isRetraining, type Period } from './monthly.js';

/**
 * Who paid for what on the report page: each tenant's cost and its features' (a feature is a
 * tenant's own: two tenants' `chat` are two rows), and the retraining jobs apart, per model, since
 * a retraining row's feature is the model it retrained, not a feature anyone uses. Summed from the
 * period's rows, so every figure is the CSV's rows of that tenant (or tenant and feature) added up.
 */
export interface UsageFigure {
  readonly costMicros: bigint;
  readonly requests: bigint;
  readonly tokens: bigint;
}

export interface TenantFeatureFigure extends UsageFigure {
  readonly feature: string;
}

export interface TenantFigure extends UsageFigure {
  readonly tenant: string;
  /** By cost, largest first, then by name. */
  readonly features: readonly TenantFeatureFigure[];
}

export interface RetrainingFigure {
  readonly model: string;
  readonly costMicros: bigint;
  /** Each job is one row's request (src/domain/retrain/charge.ts). */
  readonly jobs: bigint;
  readonly gpuMillis: bigint;
}

type Sum = { costMicros: bigint; requests: bigint; tokens: bigint };

function added(sum: Sum | undefined, row: Period['rows'][number]): Sum {
  const s = sum ?? { costMicros: 0n, requests: 0n, tokens: 0n };
  return {
    costMicros: s.costMicros + row.costMicros,
    requests: s.requests + row.requests,
    tokens: s.tokens + row.promptTokens + row.completionTokens,
  };
}

function byCost<T extends { readonly costMicros: bigint }>(name: (x: T) => string): (a: T, b: T) => number {
  return (a, b) =>
    a.costMicros === b.costMicros
      ? name(a) < name(b)
        ? -1
        : name(a) > name(b)
          ? 1
          : 0
      : a.costMicros > b.costMicros
        ? -1
        : 1;
}

/** Tenants that were served (neither idle nor retraining), by cost. */
export function tenantFigures(period: Period): TenantFigure[] {
  // Maps, not objects: a tenant named `__proto__` or `constructor` is a name like any other.
  const tenants = new Map<string, { total: Sum | undefined; features: Map<string, Sum> }>();
  for (const row of period.rows) {
    if (row.idle || isRetraining(row)) continue;
    const entry = tenants.get(row.tenant) ?? { total: undefined, features: new Map<string, Sum>() };
    entry.total = added(entry.total, row);
    entry.features.set(row.feature, added(entry.features.get(row.feature), row));
    tenants.set(row.tenant, entry);
  }
  return [...tenants.entries()]
    .map(([tenant, t]) => ({
      tenant,
      ...(t.total ?? { costMicros: 0n, requests: 0n, tokens: 0n }),
      features: [...t.features.entries()]
        .map(([feature, f]) => ({ feature, ...f }))
        .sort(byCost<TenantFeatureFigure>((f) => f.feature)),
    }))
    .sort(byCost<TenantFigure>((t) => t.tenant));
}

/** Retraining jobs per model, by cost. */
export function retrainingFigures(period: Period): RetrainingFigure[] {
  const models = new Map<string, RetrainingFigure>();
  for (const row of period.rows) {
    if (row.idle || !isRetraining(row)) continue;
    const m = models.get(row.feature);
    models.set(row.feature, {
      model: row.feature,
      costMicros: (m?.costMicros ?? 0n) + row.costMicros,
      jobs: (m?.jobs ?? 0n) + row.requests,
      gpuMillis: (m?.gpuMillis ?? 0n) + row.gpuMillis,
    });
  }
  return [...models.values()].sort(byCost<RetrainingFigure>((r) => r.model));
}
