import type { CalibrationRecord } from '../calibration/calibrate.js';
import type { ChargebackResult } from '../chargeback.js';
import type { IntakeCounts } from '../accumulator.js';
import type { Weighting } from '../weighting.js';
import type { IdlePolicy } from '../chargeback.js';
import { moneyNumber } from './format.js';

export interface SummaryContext {
  readonly date: string;
  readonly revision: number;
  readonly generatedAt: string;
  readonly currency: string;
  readonly counts: IntakeCounts;
  readonly idlePolicy: IdlePolicy;
  readonly weighting: Weighting;
  /** With `--weighting calibrated`: each deployment's fitted constants and whether they were used. */
  readonly calibration?: readonly CalibrationRecord[];
  /** The costUsd cells of the CSV added up, to show closure as a reader would check it. */
  readonly csvCostTotalUsd: number;
}

/** The summary JSON of contracts.md §5, with the reconciliation a finance reader checks first. */
export function renderSummary(context: SummaryContext, result: ChargebackResult): string {
  const fleetCostUsd = moneyNumber(result.fleetNanos);
  const summary = {
    date: context.date,
    revision: context.revision,
    generatedAt: context.generatedAt,
    currency: context.currency,
    fleetCostUsd,
    allocatedCostUsd: moneyNumber(result.allocatedNanos),
    idleCostUsd: moneyNumber(result.idleNanos),
    csvCostTotalUsd: context.csvCostTotalUsd,
    closureDifferenceUsd: Number((context.csvCostTotalUsd - fleetCostUsd).toFixed(6)),
    fleetGpuSeconds: result.fleetGpuMicros / 1e6,
    allocatedGpuSeconds: result.allocatedGpuMicros / 1e6,
    idleGpuSeconds: result.idleGpuMicros / 1e6,
    pods: result.pods,
    requests: result.requests,
    eventsRead: context.counts.eventsRead,
    usageEvents: context.counts.usageEvents,
    capacityEvents: context.counts.capacityEvents,
    ignoredEvents: context.counts.ignoredEvents,
    duplicatesDropped: context.counts.duplicatesDropped,
    rejected: context.counts.rejected,
    unmeteredRequests: result.unmeteredRequests,
    idlePolicy: context.idlePolicy,
    // contracts.md §5.2: calibrated is each deployment's fitted step costs where trusted, the
    // `configured` step costs where not; `calibration` says which deployment got which.
    weighting:
      context.calibration === undefined
        ? context.weighting
        : { kind: 'calibrated', configured: context.weighting },
    ...(context.calibration === undefined ? {} : { calibration: context.calibration }),
  };
  return `${JSON.stringify(summary, null, 2)}\n`;
}
