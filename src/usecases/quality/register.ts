/**
 * Registers a followed retraining job's output as a model version (contracts.md §16), once: the
 * version is read first and a version already there is the registration (a retry, or a second
 * follower, registers nothing new). A job that did not complete registers nothing, with the reason.
 */
import { planRegistration } from '../../domain/promotion/registration.js';
import type { ModelRegistry, RegisteredModel } from '../../ports/model-registry.js';
import type { JobState } from '../../ports/retraining-jobs.js';

export type RegistrationOutcome =
  | { readonly registered: RegisteredModel; readonly created: boolean }
  | { readonly registered: null; readonly reason: string };

export async function registerJobOutput(
  registry: ModelRegistry,
  job: JobState,
  model: string,
  version: string,
): Promise<RegistrationOutcome> {
  const plan = planRegistration(job, model, version);
  if (!plan.register) return { registered: null, reason: plan.reason };
  const existing = await registry.get(model, version);
  if (existing !== undefined) {
    if (existing.jobName !== job.name)
      return {
        registered: null,
        reason: `${model} version ${version} is already registered from job ${existing.jobName || '(unknown)'}, not ${job.name}`,
      };
    return { registered: existing, created: false };
  }
  return { registered: await registry.create(model, version, plan.body), created: true };
}
