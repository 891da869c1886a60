/**
 * Model versions in the Azure ML workspace (contracts.md §16): read one, and register one under a
 * name and version. The real adapter speaks ARM (src/adapters/azure-ml/aml-models.ts); the memory
 * adapter keeps versions in a map. Errors follow src/domain/errors.ts as in retraining-jobs.ts.
 */
import type { ModelVersionBody } from '../domain/promotion/registration.js';

export interface RegisteredModel {
  readonly model: string;
  readonly version: string;
  readonly modelUri: string;
  readonly jobName: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface ModelRegistry {
  /** The version, or undefined when the workspace has none (404). */
  get(model: string, version: string): Promise<RegisteredModel | undefined>;
  /** PUTs the version. Callers read it with `get` first: a version is registered once. */
  create(model: string, version: string, body: ModelVersionBody): Promise<RegisteredModel>;
}
