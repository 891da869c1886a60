/**
 * Whether a failed gate may start a retraining job, decided on the shared state alone (see
 * record.ts): one job per model at a time, a cooldown after one ends, and a budget per job and per
 * month. Pure: the caller reads the state, decides, and writes the new state conditionally, so two
 * decisions taken at once cannot both spend the same slot or the same budget.
 */
import type { ModelSlot, RetrainingState } from './record.js';

export interface RetrainLimits {
  /** RETRAIN_MAX_USD in micro-USD: the most one job may be estimated to cost. */
  readonly maxJobMicroUsd: number;
  /** The month's retraining budget in micro-USD. */
  readonly monthlyBudgetMicroUsd: number;
  /** After a model's job ends, no new one for this long. */
  readonly cooldownMs: number;
}

export type Decision =
  /** Submit: `state` holds the model's slot for the job and the month's spend reserved. */
  | { readonly kind: 'submit'; readonly state: RetrainingState }
  /** This very job already holds the slot: a submission cut short; finish it. */
  | { readonly kind: 'resume' }
  | { readonly kind: 'busy'; readonly reason: string }
  | { readonly kind: 'cooldown'; readonly reason: string }
  /** Over budget: never submitted, and said so (a Teams notice), not skipped in silence. */
  | { readonly kind: 'refuse'; readonly reason: string };

export interface Request {
  readonly model: string;
  readonly job: string;
  readonly estimateMicroUsd: number;
  readonly now: Date;
}

/** The month a spend counts in: the month the job was decided, UTC. */
export function monthOf(at: Date): string {
  return at.toISOString().slice(0, 7);
}

export function decide(state: RetrainingState, request: Request, limits: RetrainLimits): Decision {
  const slot: ModelSlot | undefined = state.models[request.model];
  if (slot !== undefined && slot.job === request.job && slot.endedAt === undefined) return { kind: 'resume' };
  if (slot !== undefined && slot.endedAt === undefined) {
    return { kind: 'busy', reason: `job ${slot.job} is still running for this model (since ${slot.since})` };
  }
  if (slot?.endedAt !== undefined) {
    const until = Date.parse(slot.endedAt) + limits.cooldownMs;
    if (request.now.getTime() < until) {
      return {
        kind: 'cooldown',
        reason: `cooling down after job ${slot.job} ended at ${slot.endedAt}: no new job before ${new Date(until).toISOString()}`,
      };
    }
  }
  if (request.estimateMicroUsd > limits.maxJobMicroUsd) {
    return {
      kind: 'refuse',
      reason: `estimated ${usd(request.estimateMicroUsd)} exceeds the per-job limit RETRAIN_MAX_USD of ${usd(limits.maxJobMicroUsd)}`,
    };
  }
  const month = monthOf(request.now);
  const spent = state.months[month] ?? 0;
  const left = limits.monthlyBudgetMicroUsd - spent;
  if (request.estimateMicroUsd > left) {
    return {
      kind: 'refuse',
      reason: `estimated ${usd(request.estimateMicroUsd)} exceeds what is left of ${month}'s retraining budget: ${usd(Math.max(0, left))} of ${usd(limits.monthlyBudgetMicroUsd)}`,
    };
  }
  return {
    kind: 'submit',
    state: {
      models: {
        ...state.models,
        [request.model]: {
          job: request.job,
          since: request.now.toISOString(),
          month,
          estimateMicroUsd: request.estimateMicroUsd,
        },
      },
      months: { ...state.months, [month]: spent + request.estimateMicroUsd },
    },
  };
}

/**
 * The state once a model's job has ended: its slot is kept with `endedAt` (the cooldown runs from
 * there) and the month's spend swaps the job's estimate for what it cost.
 */
export function release(
  state: RetrainingState,
  end: {
    readonly model: string;
    readonly job: string;
    readonly endedAt: string;
    readonly month: string;
    readonly estimateMicroUsd: number;
    readonly costMicroUsd: number;
  },
): RetrainingState {
  const slot = state.models[end.model];
  const models =
    slot !== undefined && slot.job === end.job && slot.endedAt === undefined
      ? { ...state.models, [end.model]: { ...slot, endedAt: end.endedAt } }
      : state.models;
  const spent = (state.months[end.month] ?? 0) - end.estimateMicroUsd + end.costMicroUsd;
  return { models, months: { ...state.months, [end.month]: Math.max(0, spent) } };
}

/** Frees a slot whose job never reached Azure ML (its record was never written): the reservation is given back. */
export function abandon(state: RetrainingState, model: string, job: string): RetrainingState {
  const slot = state.models[model];
  if (slot === undefined || slot.job !== job || slot.endedAt !== undefined) return state;
  const models = Object.fromEntries(Object.entries(state.models).filter(([name]) => name !== model));
  const spent = Math.max(0, (state.months[slot.month] ?? 0) - slot.estimateMicroUsd);
  return { models, months: { ...state.months, [slot.month]: spent } };
}

/** "$12.34" from micro-USD, rounded to the cent. */
export function usd(microUsd: number): string {
  return `$${(Math.round(microUsd / 10_000) / 100).toFixed(2)}`;
}
