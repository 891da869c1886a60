/**
 * The ModelRegistry port over Azure ML's model versions (contracts.md §16), with
 * @azure/arm-machinelearning 2.1.1 (api-version 2022-10-01): `modelVersions.get` and
 * `modelVersions.createOrUpdate`, that is GET and PUT
 * `.../workspaces/{ws}/models/{name}/versions/{version}`.
 *
 * Errors as aml-jobs.ts maps them: after the SDK's retries, 408, 429, 5xx and network failures are
 * TransientError, another 4xx (a 409 Conflict included) a PermanentError; the bearer token is
 * scrubbed from every message and no SDK error is attached.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { AzureMachineLearningWorkspaces, type ModelVersion } from '@azure/arm-machinelearning';
import { PermanentError, TransientError } from '../../domain/errors.js';
import type { ModelVersionBody } from '../../domain/promotion/registration.js';
import type { ModelRegistry, RegisteredModel } from '../../ports/model-registry.js';
import type { AmlJobsOptions } from './aml-jobs.js';

const ARM = 'https://management.azure.com';

export class AmlModels implements ModelRegistry {
  private readonly client: AzureMachineLearningWorkspaces;
  private readonly issued: string[] = [];

  constructor(private readonly options: AmlJobsOptions) {
    const endpoint = (options.endpoint ?? ARM).replace(/\/+$/, '');
    const inner = options.credential;
    const issued = this.issued;
    const credential: TokenCredential = {
      async getToken(scopes: string | string[], opts?: GetTokenOptions): Promise<AccessToken | null> {
        const token = await inner.getToken(scopes, opts);
        if (token !== null && !issued.includes(token.token)) issued.push(token.token);
        if (issued.length > 4) issued.shift();
        return token;
      },
    };
    this.client = new AzureMachineLearningWorkspaces(credential, options.subscriptionId, {
      $host: endpoint,
      endpoint,
      credentialScopes: [`${ARM}/.default`],
      ...(options.retry === undefined ? {} : { retryOptions: { ...options.retry } }),
    });
  }

  async get(model: string, version: string): Promise<RegisteredModel | undefined> {
    const { resourceGroup, workspace } = this.options;
    try {
      return registered(
        model,
        version,
        await this.client.modelVersions.get(resourceGroup, workspace, model, version),
      );
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.mapped('get', model, version, error);
    }
  }

  async create(model: string, version: string, body: ModelVersionBody): Promise<RegisteredModel> {
    const { resourceGroup, workspace } = this.options;
    const resource: ModelVersion = {
      properties: {
        description: body.properties.description,
        modelUri: body.properties.modelUri,
        modelType: body.properties.modelType,
        jobName: body.properties.jobName,
        tags: { ...body.properties.tags },
        properties: { ...body.properties.properties },
      },
    };
    try {
      return registered(
        model,
        version,
        await this.client.modelVersions.createOrUpdate(resourceGroup, workspace, model, version, resource),
      );
    } catch (error) {
      throw this.mapped('register', model, version, error);
    }
  }

  private mapped(operation: string, model: string, version: string, error: unknown): Error {
    const status = statusOf(error);
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    let what = `Azure ML ${operation} model ${model} version ${version}: ${status ?? 'no response'}${
      typeof code === 'string' ? ` ${code}` : ''
    }: ${typeof message === 'string' && message !== '' ? message : String(error)}`;
    for (const token of this.issued) what = what.split(token).join('[token]');
    what = what.replace(/Bearer\s+\S+/gi, 'Bearer [token]');
    return status === undefined || status === 408 || status === 429 || status >= 500
      ? new TransientError(what)
      : new PermanentError(what);
  }
}

function registered(model: string, version: string, resource: ModelVersion): RegisteredModel {
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(resource.properties.tags ?? {}))
    if (typeof value === 'string') tags[key] = value;
  return {
    model,
    version: resource.name ?? version,
    modelUri: resource.properties.modelUri ?? '',
    jobName: resource.properties.jobName ?? tags.retrainingJob ?? '',
    tags,
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
