import { formatScaled, roundedDivide } from '../exact.js';
import type { DailyMetrics } from '../metrics/metrics.js';
import { RETRAINING_TENANT } from '../retrain/charge.js';
import { groupKey, type RunCosts, type RunGroup } from './run-costs.js';

/**
 * The release cost gate (contracts.md §11): each (feature, model, requestClass)'s GPU cost per request under
 * the baseline and the candidate release, projected onto the real volume of the last days, and what
 * that does to the monthly bill. Exact: money in BigInt nano-dollars, rounded once per figure.
 *
 *   monthly = run cost of the group / run requests of the group
 *             x real requests of the group over the days found / days found x 730 / 24
 *
 * A month is 730 hours, as the fixed-cost estimate counts it. Fails closed: a group with real
 * traffic that either run lacks, or ran fewer than `minRequests` times, is a failure with its reason.
 * With `model`, only that model's groups of real traffic are judged (a canary serves one model); a
 * model without real traffic fails closed, since there is nothing to project its runs onto.
 */
export interface TrafficGroup {
  readonly feature: string;
  readonly model: string;
  readonly requestClass: string;
  readonly requests: number;
}

export interface Traffic {
  readonly days: readonly string[];
  readonly groups: ReadonlyMap<string, TrafficGroup>;
}

/** The real volume of the days' metrics, over tenants; retraining jobs are not traffic. */
export function trafficOf(days: readonly DailyMetrics[]): Traffic {
  const groups = new Map<string, TrafficGroup>();
  for (const day of days) {
    for (const g of day.groups) {
      if (g.tenant === RETRAINING_TENANT || g.requests === 0) continue;
      const key = groupKey(g.feature, g.model, g.requestClass);
      const previous = groups.get(key);
      groups.set(key, {
        feature: g.feature,
        model: g.model,
        requestClass: g.requestClass,
        requests: (previous?.requests ?? 0) + g.requests,
      });
    }
  }
  return { days: days.map((d) => d.date), groups };
}

export interface Side {
  readonly requests: number;
  readonly tokens: number;
  readonly nanos: number;
  readonly skus: readonly string[];
  /** Per 1,000 requests and per 1,000 tokens, in nano-dollars (rounded). */
  readonly per1kRequestsNanos: bigint;
  readonly per1kTokensNanos?: bigint;
  readonly monthlyNanos: bigint;
}

export interface GateLine {
  readonly feature: string;
  readonly model: string;
  readonly requestClass: string;
  readonly realRequests: number;
  readonly baseline?: Side;
  readonly candidate?: Side;
  readonly changeNanos?: bigint;
}

export interface CostGateResult {
  readonly verdict: 'pass' | 'fail';
  readonly reasons: readonly string[];
  readonly maxIncreasePct: number;
  readonly days: readonly string[];
  readonly baselineMonthlyNanos: bigint;
  readonly candidateMonthlyNanos: bigint;
  readonly changeNanos: bigint;
  /** Change in basis points of the baseline (1 bp = 0.01%); undefined when the baseline is 0. */
  readonly changeBasisPoints?: bigint;
  readonly lines: readonly GateLine[];
  /** Groups the runs served that were not judged (no real traffic, or another model): shown, not projected. */
  readonly unprojected: readonly string[];
  /** The one model judged; absent: every model of the real traffic. */
  readonly model?: string;
}

const HOURS_PER_MONTH = 730n;

export function judgeCost(input: {
  readonly baseline: RunCosts;
  readonly candidate: RunCosts;
  readonly traffic: Traffic;
  readonly maxIncreasePct: number;
  readonly minRequests: number;
  readonly model?: string;
}): CostGateResult {
  const traffic = judgedTraffic(input.traffic, input.model);
  const reasons: string[] = [];
  const days = BigInt(traffic.days.length);
  if (days === 0n)
    reasons.push('no daily metrics in the traffic folder: there is no real volume to project onto');
  else if (input.model !== undefined && traffic.groups.size === 0)
    reasons.push(
      `model ${input.model} has no real traffic in the ${traffic.days.length} day(s) found: there is nothing to project its runs onto`,
    );
  const lines: GateLine[] = [];
  let baselineMonthlyNanos = 0n;
  let candidateMonthlyNanos = 0n;
  for (const [key, real] of [...traffic.groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const side = (run: RunCosts, name: string): Side | undefined => {
      const group = run.groups.get(key);
      const label = `${real.feature} / ${real.model} / ${real.requestClass}`;
      if (group === undefined || group.requests === 0) {
        reasons.push(
          `${label} has real traffic (${real.requests} requests in ${traffic.days.length} day(s)) but the ${name} run served none of it`,
        );
        return undefined;
      }
      if (group.requests < input.minRequests)
        reasons.push(
          `${label}: the ${name} run served ${group.requests} request(s), fewer than the ${input.minRequests} needed to measure`,
        );
      return sideOf(group, real.requests, days);
    };
    const baseline = side(input.baseline, 'baseline');
    const candidate = side(input.candidate, 'candidate');
    if (baseline !== undefined) baselineMonthlyNanos += baseline.monthlyNanos;
    if (candidate !== undefined) candidateMonthlyNanos += candidate.monthlyNanos;
    lines.push({
      feature: real.feature,
      model: real.model,
      requestClass: real.requestClass,
      realRequests: real.requests,
      ...(baseline === undefined ? {} : { baseline }),
      ...(candidate === undefined ? {} : { candidate }),
      ...(baseline !== undefined && candidate !== undefined
        ? { changeNanos: candidate.monthlyNanos - baseline.monthlyNanos }
        : {}),
    });
  }
  const unprojected = [...new Set([...input.baseline.groups.keys(), ...input.candidate.groups.keys()])]
    .filter((key) => !traffic.groups.has(key))
    .map((key) => (JSON.parse(key) as string[]).join(' / '))
    .sort();
  const changeNanos = candidateMonthlyNanos - baselineMonthlyNanos;
  const changeBasisPoints =
    baselineMonthlyNanos === 0n ? undefined : roundedDivide(changeNanos * 10_000n, baselineMonthlyNanos);
  const limit = BigInt(Math.round(input.maxIncreasePct * 100));
  const evidence = reasons.length === 0;
  if (evidence && changeBasisPoints !== undefined && changeNanos * 10_000n > limit * baselineMonthlyNanos)
    reasons.push(
      `the projected monthly GPU cost rises ${formatBasisPoints(changeBasisPoints)}, above the ${input.maxIncreasePct}% limit`,
    );
  return {
    verdict: reasons.length === 0 ? 'pass' : 'fail',
    reasons,
    maxIncreasePct: input.maxIncreasePct,
    days: traffic.days,
    baselineMonthlyNanos,
    candidateMonthlyNanos,
    changeNanos,
    ...(changeBasisPoints === undefined ? {} : { changeBasisPoints }),
    lines: lines.sort((a, b) => compareChange(b) - compareChange(a) || (a.feature < b.feature ? -1 : 1)),
    unprojected,
    ...(input.model === undefined ? {} : { model: input.model }),
  };
}

/** The real traffic of one model only, or all of it. */
function judgedTraffic(traffic: Traffic, model: string | undefined): Traffic {
  if (model === undefined) return traffic;
  return { days: traffic.days, groups: new Map([...traffic.groups].filter(([, g]) => g.model === model)) };
}

function sideOf(group: RunGroup, realRequests: number, days: bigint): Side {
  const nanos = BigInt(group.nanos);
  const requests = BigInt(group.requests);
  return {
    requests: group.requests,
    tokens: group.tokens,
    nanos: group.nanos,
    skus: group.skus,
    per1kRequestsNanos: roundedDivide(nanos * 1000n, requests),
    ...(group.tokens > 0 ? { per1kTokensNanos: roundedDivide(nanos * 1000n, BigInt(group.tokens)) } : {}),
    monthlyNanos:
      days === 0n ? 0n : roundedDivide(nanos * BigInt(realRequests) * HOURS_PER_MONTH, requests * days * 24n),
  };
}

function compareChange(line: GateLine): number {
  const change = line.changeNanos ?? 0n;
  return Number(change < 0n ? -change : change);
}

/** Basis points as a signed percentage with one decimal: 789n -> "+7.9%". */
export function formatBasisPoints(bp: bigint): string {
  const tenths = roundedDivide(bp, 10n);
  return `${tenths < 0n ? '' : '+'}${formatScaled(tenths, 1)}%`;
}
