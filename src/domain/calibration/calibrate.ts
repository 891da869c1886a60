import type { UsageRecord } from '../records.js';
import type { Weighting } from '../weighting.js';
import { decodeEquations, fitConstants, type CalibrationFit, type StepConstants } from './fit.js';

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
  readonly fit?: CalibrationFit;
  /** The weighting the allocation uses for this deployment. */
  readonly weighting: Weighting;
  readonly source: 'fitted' | 'configured';
  readonly reason?: string;
}

export const MIN_CALIBRATION_REQUESTS = 500;

export function deploymentKey(d: { model: string; gpuSku: string; gpuCount: number }): string {
  return JSON.stringify([d.model, d.gpuSku, d.gpuCount]);
}

export function calibrate(
  usage: readonly UsageRecord[],
  configured: Weighting,
  minRequests = MIN_CALIBRATION_REQUESTS,
): Map<string, DeploymentCalibration> {
  // Equations come from one pod at a time (only a pod's own requests share its steps).
  const pods = new Map<string, UsageRecord[]>();
  for (const u of usage) {
    const key = JSON.stringify([u.pod, u.model, u.gpuSku, u.gpuCount]);
    const list = pods.get(key) ?? [];
    list.push(u);
    pods.set(key, list);
  }
  const equations = new Map<string, { deployment: UsageRecord; x: Float64Array[]; y: number[] }>();
  for (const list of pods.values()) {
    const first = list[0];
    if (first === undefined) continue;
    const key = deploymentKey(first);
    const entry = equations.get(key) ?? { deployment: first, x: [], y: [] };
    const { x, y } = decodeEquations(list);
    entry.x.push(...x);
    entry.y.push(...y);
    equations.set(key, entry);
  }
  const result = new Map<string, DeploymentCalibration>();
  for (const [key, { deployment, x, y }] of equations) {
    const base = { model: deployment.model, gpuSku: deployment.gpuSku, gpuCount: deployment.gpuCount };
    const fit = x.length >= minRequests ? fitPositive(x, Float64Array.from(y)) : undefined;
    const reason =
      x.length < minRequests
        ? `${x.length} requests with a decode phase, fewer than the ${minRequests} a fit needs`
        : untrusted(fit);
    result.set(
      key,
      reason === undefined && fit !== undefined
        ? { ...base, fit, weighting: weightingOf(fit.constants), source: 'fitted' }
        : {
            ...base,
            ...(fit === undefined ? {} : { fit }),
            weighting: configured,
            source: 'configured',
            reason: reason ?? 'no fit',
          },
    );
  }
  return result;
}

/** The fit with every per-token constant >= 0: a negative one is held at 0 and the rest refitted. */
function fitPositive(x: readonly Float64Array[], y: Float64Array): CalibrationFit | undefined {
  let fit = fitConstants(x, y);
  const dropped = new Set<number>();
  for (let round = 0; round < 3 && fit !== undefined; round += 1) {
    const c = fit.constants;
    const values = [c.prefillMsPerToken, c.decodeMsPerToken, c.decodeMsPerContextToken];
    const negative = values.findIndex((v, i) => v < 0 && !dropped.has(i + 1));
    if (negative < 0) return fit;
    dropped.add(negative + 1);
    fit = fitConstants(x, y, dropped);
  }
  return fit;
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

function weightingOf(c: StepConstants): Weighting {
  return {
    kind: 'step-cost',
    prefillMsPerToken: c.prefillMsPerToken,
    decodeMsPerToken: Math.max(0, c.decodeMsPerToken),
    decodeMsPerContextToken: Math.max(0, c.decodeMsPerContextToken),
  };
}

/** A deployment's calibration as the summary shows it (6 significant digits: stable bytes). */
export function calibrationSummary(calibrations: Iterable<DeploymentCalibration>): unknown[] {
  const round = (c: StepConstants): Record<string, number> =>
    Object.fromEntries(Object.entries(c).map(([k, v]: [string, number]) => [k, Number(v.toPrecision(6))]));
  return [...calibrations]
    .sort((a, b) => (deploymentKey(a) < deploymentKey(b) ? -1 : 1))
    .map((c) => ({
      model: c.model,
      gpuSku: c.gpuSku,
      gpuCount: c.gpuCount,
      source: c.source,
      ...(c.reason === undefined ? {} : { reason: c.reason }),
      requests: c.fit?.requests ?? 0,
      ...(c.fit === undefined
        ? {}
        : {
            fitted: round(c.fit.constants),
            standardErrors: round(c.fit.standardErrors),
            residualMs: Number(c.fit.residualMs.toPrecision(6)),
          }),
    }));
}
