import type { UsageRecord } from '../records.js';
import { PREFILL_ATTENTION_PER_CONTEXT_TOKEN, type Weighting } from '../weighting.js';
import {
  decodeEquations,
  EQUATION_COLUMNS,
  fitConstants,
  keepUpTo,
  prefillBound,
  quietStepMs,
  rowsOf,
  sampleThreshold,
  type CalibrationFit,
  type Equations,
  type StepConstants,
} from './fit.js';

/**
 * Per deployment (model, GPU SKU, GPU count), the step constants fitted from the day's requests,
 * and whether they are trusted: enough requests and every constant positive with a standard error
 * under a quarter of its value. A deployment whose fit is not trusted keeps the configured
 * constants, and the reason is kept to be shown.
 */
export interface DeploymentCalibration {
  readonly model: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  /** Requests with a decode phase: the equations the deployment gave, fitted or too few. */
  readonly requests: number;
  readonly fit?: CalibrationFit;
  /** The weighting the allocation uses for this deployment. */
  readonly weighting: Weighting;
  readonly source: 'fitted' | 'configured';
  readonly reason?: string;
}

/**
 * A deployment's calibration as the summary and the metrics file show it, and as it is stored for
 * the day: constants to 6 significant digits, which are the ones the allocation uses, so a day
 * computed again from its stored calibration gives the same bytes.
 */
export interface CalibrationRecord {
  readonly model: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
  readonly source: 'fitted' | 'configured';
  readonly reason?: string;
  /** Requests with a decode phase behind the fit (or too few for one), when it was made. */
  readonly requests: number;
  readonly fitted?: StepConstants;
  /**
   * The prefill attention term the fit counted prompt tokens with (weighting.ts), which the fitted
   * constants are used with. Absent in records written before the term existed: their constants
   * were fitted without it and are used without it, so a day computed again gives the same bytes.
   */
  readonly prefillAttentionPerContextToken?: number;
  readonly standardErrors?: StepConstants;
  readonly residualMs?: number;
}

export const MIN_CALIBRATION_REQUESTS = 500;

/**
 * The most requests a deployment's fit uses: beyond it, the requests with the smallest sampling
 * keys (fit.ts sampleKey of the eventId), the same whichever pods or units they came in. Four
 * constants are well determined long before (the standard errors shrink as one over the square
 * root of the count), and the main process holds at most twice this many rows per deployment,
 * whatever the size of the day.
 */
export const MAX_FIT_REQUESTS = 200_000;

export function deploymentKey(d: { model: string; gpuSku: string; gpuCount: number }): string {
  return JSON.stringify([d.model, d.gpuSku, d.gpuCount]);
}

/**
 * One day's calibration, built from usage given pod by pod complete (a partition's, or the whole
 * day's), then fitted once. Deployments whose stored record (an earlier revision of the day) is
 * `fitted` keep those constants and are not fitted again: a day's constants are made once, at its
 * first report with enough requests, so late events restate the day without moving every other
 * request's cost through a new fit. A deployment stored as `configured` (too few requests then, or
 * none) is fitted from the events as they are now.
 *
 * The equations are kept per pod and put together in pod order, each pod's requests by eventId,
 * so the fit does not depend on the order the events came in.
 */
/** A deployment as the calibration tells them apart. */
export interface Deployment {
  readonly model: string;
  readonly gpuSku: string;
  readonly gpuCount: number;
}

/** One pod's equations for its deployment's fit: what a unit computed elsewhere hands on. */
export interface PodEquations {
  /** The pod's key (pod, model, GPU SKU, GPU count), by which the fit orders pods. */
  readonly pod: string;
  readonly deployment: Deployment;
  readonly equations: Equations;
}

/**
 * The equations of the pods of `usage` (each pod complete) whose deployment is not settled, each
 * pod's requests by eventId: what DayCalibration.add keeps, made where the usage was read.
 */
export function podEquations(
  usage: readonly UsageRecord[],
  settled: (deploymentKey: string) => boolean,
  limit = MAX_FIT_REQUESTS,
): PodEquations[] {
  const pods = new Map<string, UsageRecord[]>();
  for (const u of usage) {
    if (settled(deploymentKey(u))) continue;
    const key = JSON.stringify([u.pod, u.model, u.gpuSku, u.gpuCount]);
    const list = pods.get(key);
    if (list === undefined) pods.set(key, [u]);
    else list.push(u);
  }
  return [...pods].map(([pod, list]) => {
    const { model, gpuSku, gpuCount } = list[0] as UsageRecord;
    list.sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
    const equations = decodeEquations(list);
    return {
      pod,
      deployment: { model, gpuSku, gpuCount },
      equations: keepUpTo(equations, sampleThreshold([equations], limit)),
    };
  });
}

export class DayCalibration {
  private readonly kept = new Map<string, CalibrationRecord>();
  private readonly pending = new Map<
    string,
    {
      deployment: Deployment;
      pods: Map<string, Equations>;
    }
  >();
  private readonly done = new Map<string, DeploymentCalibration>();

  constructor(
    private readonly configured: Weighting,
    stored: readonly CalibrationRecord[] = [],
    private readonly minRequests = MIN_CALIBRATION_REQUESTS,
    private readonly limit = MAX_FIT_REQUESTS,
  ) {
    // A stored entry is reused only if it would be trusted now (a hand-edited or damaged file must
    // not put a negative cost into the allocation); any other is fitted anew.
    for (const record of stored)
      if (record.source === 'fitted' && record.fitted !== undefined && saneConstants(record.fitted))
        this.kept.set(deploymentKey(record), record);
  }

  /** True when the deployment has stored fitted constants (its weighting is known before any fit). */
  settled(d: { model: string; gpuSku: string; gpuCount: number }): boolean {
    return this.kept.has(deploymentKey(d));
  }

  /** The deployments with stored fitted constants, by deploymentKey. */
  settledKeys(): string[] {
    return [...this.kept.keys()];
  }

  /** Adds usage whose pods are complete (no pod's requests are split across calls). */
  add(usage: readonly UsageRecord[]): void {
    this.addEquations(podEquations(usage, (key) => this.kept.has(key), this.limit));
  }

  /**
   * Adds pods' equations made elsewhere (podEquations, with settledKeys). A pod given again
   * replaces what it gave before: a unit computed again as part of a larger one gives it whole.
   * A deployment holding more than twice the limit's rows keeps only those that can still be in
   * its sample (a key at most the limit-th smallest so far): more rows can only lower that key.
   */
  addEquations(pods: readonly PodEquations[]): void {
    const grown = new Set<string>();
    for (const { pod, deployment, equations } of pods) {
      const key = deploymentKey(deployment);
      const entry = this.pending.get(key) ?? { deployment, pods: new Map() };
      entry.pods.set(pod, equations);
      this.pending.set(key, entry);
      grown.add(key);
    }
    for (const key of grown) {
      const entry = this.pending.get(key);
      if (entry === undefined) continue;
      let rows = 0;
      for (const e of entry.pods.values()) rows += rowsOf(e);
      if (rows <= 2 * this.limit) continue;
      const threshold = sampleThreshold([...entry.pods.values()], this.limit);
      for (const [pod, e] of entry.pods) entry.pods.set(pod, keepUpTo(e, threshold));
    }
  }

  /** Fits every deployment added since. */
  fit(): void {
    for (const [key, { deployment, pods }] of this.pending) {
      const all = joined(pods);
      const sample = keepUpTo(all, sampleThreshold([all], this.limit));
      const calibration = judge(deployment, sample, this.configured, this.minRequests);
      this.done.set(key, calibration);
    }
    this.pending.clear();
  }

  /**
   * The deployment's weighting: stored or fitted constants, or undefined for the configured ones.
   * A property, so that it can be handed to computeChargeback as it is.
   */
  readonly weightingFor = (d: { model: string; gpuSku: string; gpuCount: number }): Weighting | undefined => {
    const key = deploymentKey(d);
    const kept = this.kept.get(key);
    if (kept?.fitted !== undefined)
      return weightingOf(kept.fitted, kept.prefillAttentionPerContextToken ?? 0);
    return this.done.get(key)?.weighting;
  };

  /** The weightings weightingFor gives, by deploymentKey: for an allocation made elsewhere. */
  weightings(): [string, Weighting][] {
    const out: [string, Weighting][] = [];
    for (const [key, record] of this.kept)
      if (record.fitted !== undefined)
        out.push([key, weightingOf(record.fitted, record.prefillAttentionPerContextToken ?? 0)]);
    for (const [key, done] of this.done) if (!this.kept.has(key)) out.push([key, done.weighting]);
    return out;
  }

  /** Every deployment's record, the stored ones as stored, sorted by deployment. */
  records(): CalibrationRecord[] {
    const all = new Map<string, CalibrationRecord>(this.kept);
    for (const [key, c] of this.done) if (!all.has(key)) all.set(key, recordOf(c));
    return [...all.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
  }

  /** The fitted and configured deployments, for callers that want the fits themselves. */
  calibrations(): Map<string, DeploymentCalibration> {
    return new Map(this.done);
  }
}

/** Calibrates a whole day's usage at once, with the fits themselves (the benchmarks, tests). */
export function calibrate(
  usage: readonly UsageRecord[],
  configured: Weighting,
  minRequests = MIN_CALIBRATION_REQUESTS,
): Map<string, DeploymentCalibration> {
  const day = new DayCalibration(configured, [], minRequests);
  day.add(usage);
  day.fit();
  return day.calibrations();
}

/** The pods' equations in one packed array, pods in key order (the fit must not depend on arrival). */
function joined(pods: ReadonlyMap<string, Equations>): Equations {
  const parts = [...pods.keys()].sort().map((k) => pods.get(k) as Equations);
  const columns = parts[0]?.columns ?? EQUATION_COLUMNS;
  const odd = parts.find((p) => p.columns !== columns);
  if (odd !== undefined) throw new RangeError(`pods' equations of ${odd.columns} and ${columns} columns`);
  const rows = parts.reduce((sum, p) => sum + rowsOf(p), 0);
  const x = new Float64Array(rows * columns);
  const y = new Float64Array(rows);
  const keys = new Float64Array(rows);
  let at = 0;
  let dropped = 0;
  for (const p of parts) {
    x.set(p.x, at * columns);
    y.set(p.y, at);
    keys.set(p.keys, at);
    at += rowsOf(p);
    dropped += p.dropped;
  }
  return { columns, x, y, keys, dropped };
}

function judge(
  deployment: Deployment,
  equations: Equations,
  configured: Weighting,
  minRequests: number,
): DeploymentCalibration {
  // Every request with a decode phase counts, the ones left out of the sample too.
  const requests = rowsOf(equations) + equations.dropped;
  const fitted = rowsOf(equations);
  const base = {
    model: deployment.model,
    gpuSku: deployment.gpuSku,
    gpuCount: deployment.gpuCount,
    requests,
  };
  const fit = fitted >= minRequests ? fitPositive(equations) : undefined;
  const bent = fitted < minRequests ? undefined : (untrusted(fit) ?? outOfBound(equations, fit));
  const saturated = fitted < minRequests || bent !== undefined ? undefined : belowQuietSteps(equations, fit);
  const reason =
    fitted < minRequests
      ? `${requests} requests with a decode phase, fewer than the ${minRequests} a fit needs`
      : (bent ??
        (saturated === undefined
          ? undefined
          : `${saturated}; the configured constants are used, with the prefill attention term`));
  if (reason === undefined && fit !== undefined)
    return {
      ...base,
      fit,
      weighting: weightingOf(rounded(fit.constants), PREFILL_ATTENTION_PER_CONTEXT_TOKEN),
      source: 'fitted',
    };
  return {
    ...base,
    ...(fit === undefined ? {} : { fit }),
    weighting: saturated === undefined ? configured : withAttention(configured),
    source: 'configured',
    reason: reason ?? 'no fit',
  };
}

/**
 * The configured constants with the prefill attention term, for a deployment whose fit was refused
 * by the quiet-step rule alone: a saturated pod, where the fit moved step time onto the per-token
 * costs but nothing says its prompts' attention is not there. The term is the models' shape, not a
 * fitted figure. A weighting that has its own term, or is not step-cost, is kept as it is.
 */
function withAttention(configured: Weighting): Weighting {
  if (configured.kind !== 'step-cost' || configured.prefillAttentionPerContextToken !== undefined)
    return configured;
  return { ...configured, prefillAttentionPerContextToken: PREFILL_ATTENTION_PER_CONTEXT_TOKEN };
}

/** The fit with every per-token constant >= 0: a negative one is held at 0 and the rest refitted. */
function fitPositive(equations: Equations): CalibrationFit | undefined {
  let fit = fitConstants(equations);
  const dropped = new Set<number>();
  for (let round = 0; round < 3 && fit !== undefined; round += 1) {
    const c = fit.constants;
    const values = [c.prefillMsPerToken, c.decodeMsPerToken, c.decodeMsPerContextToken];
    const negative = values.findIndex((v, i) => v < 0 && !dropped.has(i + 1));
    if (negative < 0) return fit;
    dropped.add(negative + 1);
    fit = fitConstants(equations, dropped);
  }
  return fit;
}

function saneConstants(c: StepConstants): boolean {
  return (
    c.fixedMs > 0 &&
    c.prefillMsPerToken > 0 &&
    c.decodeMsPerToken >= 0 &&
    c.decodeMsPerContextToken >= 0 &&
    c.decodeMsPerToken + c.decodeMsPerContextToken * 1000 > 0 &&
    Object.values(c).every((v: number) => Number.isFinite(v))
  );
}

function untrusted(fit: CalibrationFit | undefined): string | undefined {
  if (fit === undefined) return 'the equations are singular (too little variety in the requests)';
  const c = fit.constants;
  const e = fit.standardErrors;
  if (!(c.fixedMs > 0)) return `the fitted fixed step time ${c.fixedMs.toFixed(3)} ms is not positive`;
  if (!(c.prefillMsPerToken > 0)) return 'the fitted prefill cost is not positive';
  if (!(c.decodeMsPerToken + c.decodeMsPerContextToken * 1000 > 0))
    return 'the fitted decode cost is not positive';
  const loose = (['fixedMs', 'prefillMsPerToken'] as const).find((k) => e[k] > c[k] / 4);
  if (loose !== undefined)
    return `the fitted ${loose} is uncertain (standard error ${e[loose].toPrecision(2)} for ${c[loose].toPrecision(3)})`;
  return undefined;
}

/**
 * A fit is not trusted when more than this share of its requests have a prefill window shorter
 * than half their own prefill work at the fitted cost (prefillBound): at the true cost none is
 * shorter than all of it, so the windows contradict such a fit by more than 2x. A fit somewhat high
 * (a day with events still missing) passes; what breaks it in practice is preemption, whose
 * recomputes and waits lengthen decode windows that the fit then puts on prefill
 * (docs/accounting.md#on-an-engine-with-vllms-effects).
 */
export const MAX_PREFILL_BOUND_BROKEN = 0.05;

function outOfBound(equations: Equations, fit: CalibrationFit | undefined): string | undefined {
  if (fit === undefined) return undefined;
  const cp = fit.constants.prefillMsPerToken;
  const broken = prefillBound(equations, cp / 2);
  if (broken <= MAX_PREFILL_BOUND_BROKEN) return undefined;
  return `the fitted prefill cost ${cp.toPrecision(3)} ms per token is more than twice what the prefill windows of ${(broken * 100).toFixed(1)}% of the requests hold (at most ${MAX_PREFILL_BOUND_BROKEN * 100}% may be)`;
}

/**
 * A fit is not trusted when its fixed step time is under this share of the day's quiet steps
 * (quietStepMs, the 1st percentile of the requests' decode time per step). At the engine's
 * constants the fixed step is at most that and, on every simulated day whose fit holds, within 1.6%
 * of it (bench/calibration.ts, both engines): the quietest steps are little more than their fixed
 * part. The fits that preemption bent came out 5% to 72% under. A fit further under has moved
 * step time onto the per-token constants, which is what recompute preemption does on a saturated
 * pod (the recomputes, invisible in the events, lengthen the decode windows of long-context
 * requests, and the context cost comes out several times the engine's;
 * docs/accounting.md#on-an-engine-with-vllms-effects).
 */
export const MIN_FIXED_OF_QUIET_STEP = 0.97;

function belowQuietSteps(equations: Equations, fit: CalibrationFit | undefined): string | undefined {
  if (fit === undefined) return undefined;
  const quiet = quietStepMs(equations);
  const f = fit.constants.fixedMs;
  if (!(f < MIN_FIXED_OF_QUIET_STEP * quiet)) return undefined;
  return `the fitted fixed step time ${f.toFixed(2)} ms is under ${MIN_FIXED_OF_QUIET_STEP * 100}% of the quietest decode steps (${quiet.toFixed(2)} ms per step at the 1st percentile): the fit has moved step time onto the per-token costs`;
}

/** A fitted weighting: the fitted constants, and the attention term the fit counted prefill with. */
function weightingOf(c: StepConstants, attention: number): Weighting {
  return {
    kind: 'step-cost',
    prefillMsPerToken: c.prefillMsPerToken,
    decodeMsPerToken: Math.max(0, c.decodeMsPerToken),
    decodeMsPerContextToken: Math.max(0, c.decodeMsPerContextToken),
    ...(attention === 0 ? {} : { prefillAttentionPerContextToken: attention }),
  };
}

/** 6 significant digits: what is stored, and so what the allocation uses. */
function rounded(c: StepConstants): StepConstants {
  const r = (v: number): number => Number(v.toPrecision(6));
  return {
    fixedMs: r(c.fixedMs),
    prefillMsPerToken: r(c.prefillMsPerToken),
    decodeMsPerToken: r(c.decodeMsPerToken),
    decodeMsPerContextToken: r(c.decodeMsPerContextToken),
  };
}

function recordOf(c: DeploymentCalibration): CalibrationRecord {
  return {
    model: c.model,
    gpuSku: c.gpuSku,
    gpuCount: c.gpuCount,
    source: c.source,
    ...(c.reason === undefined ? {} : { reason: c.reason }),
    requests: c.requests,
    ...(c.fit === undefined
      ? {}
      : {
          fitted: rounded(c.fit.constants),
          prefillAttentionPerContextToken: PREFILL_ATTENTION_PER_CONTEXT_TOKEN,
          standardErrors: rounded(c.fit.standardErrors),
          residualMs: Number(c.fit.residualMs.toPrecision(6)),
        }),
  };
}
