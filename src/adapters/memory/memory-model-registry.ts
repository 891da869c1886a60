/** ModelRegistry in a map, for use-case tests and local runs (contracts.md §16). */
import type { ModelVersionBody } from '../../domain/promotion/registration.js';
import type { ModelRegistry, RegisteredModel } from '../../ports/model-registry.js';

export class MemoryModelRegistry implements ModelRegistry {
  readonly versions = new Map<string, RegisteredModel>();
  /** How many times create was called. */
  creates = 0;

  get(model: string, version: string): Promise<RegisteredModel | undefined> {
    return Promise.resolve(this.versions.get(`${model}:${version}`));
  }

  create(model: string, version: string, body: ModelVersionBody): Promise<RegisteredModel> {
    this.creates += 1;
    const key = `${model}:${version}`;
    const existing = this.versions.get(key);
    if (existing !== undefined) return Promise.resolve(existing);
    const registered: RegisteredModel = {
      model,
      version,
      modelUri: body.properties.modelUri,
      jobName: body.properties.jobName,
      tags: { ...body.properties.tags },
    };
    this.versions.set(key, registered);
    return Promise.resolve(registered);
  }
}
